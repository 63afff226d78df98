// temp_dir.h - scratch space for unit tests that need real files: a directory under /tmp,
// removed with everything in it when the test ends.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace unit_test {

class TempDir {
public:
    // `tag` names the directory (/tmp/policer-<tag>-XXXXXX), to tell leftovers apart.
    explicit TempDir(const std::string &tag = "unit") {
        std::string tmpl = "/tmp/policer-" + tag + "-XXXXXX";
        REQUIRE(mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;

    std::string file(const std::string &name) const { return path + "/" + name; }
    // Writes `content` to `rel` (directories made as needed); returns its path.
    std::string write(const std::string &rel, const std::string &content) const {
        const std::string p = file(rel);
        std::filesystem::create_directories(std::filesystem::path(p).parent_path());
        std::ofstream(p, std::ios::binary) << content;
        return p;
    }

    std::string path;
};

} // namespace unit_test
