// Test helpers shared by every test binary.
#pragma once

#include <filesystem>
#include <string>

namespace ih::test {

// A fresh directory under the system temp dir, removed (recursively) on destruction. Not thread-safe.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path() / name, as a string.
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Writes `text` to `path` (truncating), creating parent directories.
void writeFile(const std::filesystem::path& path, const std::string& text);
// Whole file as a string; empty when missing.
std::string readFile(const std::filesystem::path& path);

}  // namespace ih::test
