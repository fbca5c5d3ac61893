#include "store/sql.h"

#include <charconv>

namespace ih::store::sql {

Status statusFromError(const Error& e) {
  switch (e.kind()) {
    case ErrorKind::kUnique:
      return Status::alreadyExists(e.what());
    case ErrorKind::kBusy:
      return Status::unavailable(std::string("database is busy: ") + e.what());
    case ErrorKind::kOther:
      break;
  }
  return Status::internal(e.what());
}

StatementImpl* Connection::acquire(std::string_view sql) {
  auto found = cache_.find(sql);
  if (found == cache_.end() && cache_.size() < max_cached_) {
    Entry entry;
    entry.statement = prepare(sql, true);
    found = cache_.emplace(std::string(sql), std::move(entry)).first;
  }
  if (found != cache_.end() && !found->second.in_use) {
    found->second.in_use = true;
    found->second.statement->cache_in_use = &found->second.in_use;
    return found->second.statement.get();
  }
  return prepare(sql, false).release();  // deleted by release()
}

void Connection::defer(std::string_view sql) {
  Statement q(*this, sql);
  q.exec();
}

void Connection::release(StatementImpl* statement) noexcept {
  statement->reset();
  statement->clearBindings();
  if (statement->cache_in_use != nullptr) {
    *statement->cache_in_use = false;
    return;
  }
  delete statement;
}

std::string toDollarParameters(std::string_view sql, std::vector<bool>& used) {
  std::string out;
  out.reserve(sql.size() + 16);
  used.clear();
  int parameters = 0;  // the highest number so far: a plain `?` is the next one
  size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {  // a literal or a quoted name, with its doubled quotes: copied as it is
      const size_t end = sql.find(c, i + 1);
      const size_t stop = end == std::string_view::npos ? sql.size() : end + 1;
      out.append(sql.substr(i, stop - i));
      i = stop;
      continue;
    }
    if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {  // a comment, to the end of the line
      const size_t end = sql.find('\n', i);
      const size_t stop = end == std::string_view::npos ? sql.size() : end;
      out.append(sql.substr(i, stop - i));
      i = stop;
      continue;
    }
    if (c != '?') {
      out += c;
      ++i;
      continue;
    }
    size_t digits_end = i + 1;
    while (digits_end < sql.size() && sql[digits_end] >= '0' && sql[digits_end] <= '9')
      ++digits_end;
    int number = 0;
    if (digits_end > i + 1) {
      const auto [ptr, ec] = std::from_chars(sql.data() + i + 1, sql.data() + digits_end, number);
      if (ec != std::errc() || number < 1) number = parameters + 1;
    } else {
      number = parameters + 1;
    }
    if (number > 32766) number = 32766;  // PostgreSQL's limit; the server refuses the statement past it
    if (number > parameters) parameters = number;
    if (used.size() < static_cast<size_t>(number)) used.resize(number, false);
    used[number - 1] = true;
    out += '$';
    out += std::to_string(number);
    i = digits_end;
  }
  return out;
}

}  // namespace ih::store::sql
