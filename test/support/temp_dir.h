// A scratch directory for one test, removed with everything in it afterwards.
#pragma once

#include <string>

namespace ferry::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  /// Writes `contents` to `name` inside the directory and returns its path.
  std::string write(const std::string& name, const std::string& contents) const;
  /// The whole contents of `name` inside the directory ("" when missing).
  std::string read(const std::string& name) const;

 private:
  std::string path_;
};

}  // namespace ferry::test
