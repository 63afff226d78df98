// kernel_strings_test.cpp - decoding of the strings the probes capture: fixed arrays, leaf-first
// exe paths and argv areas.
#include "enrich/kernel_strings.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

namespace {

using policer::enrich::bounded_cstr;
using policer::enrich::exe_from_components;
using policer::enrich::join_args;
using policer::enrich::split_args;
using Args = std::vector<std::string>;

// All the bytes of a string literal but its terminating NUL: embedded NULs included.
template <size_t N>
std::string_view bytes(const char (&s)[N]) {
    return std::string_view(s, N - 1);
}

} // namespace

TEST_CASE("bounded_cstr stops at the first NUL") {
    char comm[16] = "curl";
    CHECK(bounded_cstr(comm, sizeof(comm)) == "curl");

    char two[16] = {'a', 'b', '\0', 'c', 'd'};
    CHECK(bounded_cstr(two, sizeof(two)) == "ab");

    char empty[16] = {};
    CHECK(bounded_cstr(empty, sizeof(empty)) == "");
}

TEST_CASE("bounded_cstr reads no further than the array when there is no NUL") {
    // Followed in memory by more text that must not be read.
    const char buf[] = "0123456789abcdefOVERRUN";
    CHECK(bounded_cstr(buf, 16) == "0123456789abcdef");
    CHECK(bounded_cstr(buf, 0) == "");
}

TEST_CASE("exe_from_components reverses leaf-first components into an absolute path") {
    CHECK(exe_from_components(bytes("curl\0bin\0usr\0"), false) == "/usr/bin/curl");
    CHECK(exe_from_components(bytes("curl\0bin\0usr"), false) == "/usr/bin/curl");
    CHECK(exe_from_components(bytes("init\0"), false) == "/init");
    CHECK(exe_from_components(bytes("python3.11\0bin\0local\0usr\0"), false) ==
          "/usr/local/bin/python3.11");
}

TEST_CASE("exe_from_components gives an empty path for no components") {
    CHECK(exe_from_components("", false) == "");
    CHECK(exe_from_components(bytes("\0\0\0"), false) == "");
}

TEST_CASE("exe_from_components marks a truncated path with a leading ...") {
    CHECK(exe_from_components(bytes("curl\0bin\0"), true) == ".../bin/curl");
    CHECK(exe_from_components("", true) == "...");
}

TEST_CASE("exe_from_components ignores empty components from doubled NULs") {
    CHECK(exe_from_components(bytes("curl\0\0bin\0\0usr\0\0"), false) == "/usr/bin/curl");
    CHECK(exe_from_components(bytes("\0curl\0bin\0"), false) == "/bin/curl");
}

TEST_CASE("split_args splits the argv area with or without its trailing NUL") {
    CHECK(split_args(bytes("ls\0-l\0/tmp\0")) == Args{"ls", "-l", "/tmp"});
    CHECK(split_args(bytes("ls\0-l\0/tmp")) == Args{"ls", "-l", "/tmp"});
    CHECK(split_args(bytes("sleep\0")) == Args{"sleep"});
    CHECK(split_args("") == Args{});
}

TEST_CASE("split_args keeps empty arguments") {
    CHECK(split_args(bytes("printf\0\0x\0")) == Args{"printf", "", "x"});
    CHECK(split_args(bytes("echo\0\0")) == Args{"echo", ""});
    CHECK(split_args(bytes("a\0\0\0b")) == Args{"a", "", "", "b"});
}

TEST_CASE("split_args returns at most max_args arguments") {
    CHECK(split_args(bytes("a\0b\0c\0d\0"), 2) == Args{"a", "b"});
    CHECK(split_args(bytes("a\0b\0c\0d\0"), 4) == Args{"a", "b", "c", "d"});
    CHECK(split_args(bytes("a\0b\0c\0d\0"), 0) == Args{});

    std::string many;
    for (int i = 0; i < 300; ++i)
        many += "x" + std::to_string(i) + '\0';
    auto args = split_args(many);
    REQUIRE(args.size() == 256);
    CHECK(args.front() == "x0");
    CHECK(args.back() == "x255");
}

TEST_CASE("join_args joins with single spaces") {
    CHECK(join_args({"curl", "-s", "https://example.com"}) == "curl -s https://example.com");
    CHECK(join_args({"sleep"}) == "sleep");
    CHECK(join_args({}) == "");
    CHECK(join_args({"printf", "", "x"}) == "printf  x");
}
