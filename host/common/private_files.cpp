#include "common/private_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace ih {
namespace {

std::string errnoText(int error) {
  return std::strerror(error);
}

}  // namespace

Status createPrivateDirectories(const std::string& directory) {
  if (directory.empty()) return Status::ok();
  std::vector<std::filesystem::path> missing;
  std::error_code ec;
  for (std::filesystem::path p = std::filesystem::path(directory).lexically_normal();
       !p.empty() && !std::filesystem::exists(p, ec); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    const std::string path = it->string();
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::internal("cannot create directory " + path + ": " + errnoText(errno));
    }
    if (::chmod(path.c_str(), 0700) != 0) {  // mkdir's mode is reduced by the umask; 0700 exactly
      return Status::internal("cannot set mode 0700 on directory " + path + ": " + errnoText(errno));
    }
  }
  return Status::ok();
}

Status makePrivateFile(const std::string& path, bool create) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
  if (fd < 0 && !create && errno == ENOENT) return Status::ok();
  if (fd < 0) return Status::internal("cannot open " + path + ": " + errnoText(errno));
  struct stat st {};
  Status result = Status::ok();
  if (::fstat(fd, &st) != 0) {
    result = Status::internal("cannot inspect " + path + ": " + errnoText(errno));
  } else if (!S_ISREG(st.st_mode)) {
    result = Status::internal(path + " is not a regular file");
  } else if ((st.st_mode & 0077) != 0 && ::fchmod(fd, st.st_mode & 0700) != 0) {
    result = Status::internal("cannot set mode 0600 on " + path + ": " + errnoText(errno));
  }
  ::close(fd);
  return result;
}

}  // namespace ih
