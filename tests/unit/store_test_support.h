// store_test_support.h - what the store tests share: a temporary directory, file contents,
// and flows made to order.
#pragma once

#include "store/flow_store.h"
#include "temp_dir.h"

#include <doctest/doctest.h>

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace store_test {

using unit_test::TempDir;

// A Result's error message, or "" - for REQUIRE_MESSAGE, whose message doctest also evaluates
// when the check passes (with -s).
template <typename T>
std::string why(const policer::Result<T> &result) {
    return result.ok() ? std::string() : result.error().message;
}

inline std::string file_bytes(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline int64_t file_size(const std::string &path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return static_cast<int64_t>(st.st_size);
}

// Flow number `n`, ended at `end_ms`; `padding` bytes of event JSON make rows big.
inline policer::store::FlowRow make_flow(int64_t n, int64_t end_ms, size_t padding = 0) {
    policer::store::FlowRow r;
    r.start_ms = end_ms - 100;
    r.end_ms = end_ms;
    r.uid = 1000 + n % 3;
    r.user_name = "user" + std::to_string(n % 3);
    r.pid = 4000 + n;
    r.exe = n % 2 ? "/usr/bin/curl" : "/usr/sbin/sshd";
    r.l4_proto = "tcp";
    r.src_ip = "10.0.0.1";
    r.src_port = 40000 + n;
    r.dst_ip = "192.0.2." + std::to_string(n % 250);
    r.dst_port = n % 2 ? 443 : 22;
    r.direction = "egress";
    r.domain = n % 2 ? "www.example.com" : "";
    r.action = "allow";
    r.rule = "rule" + std::to_string(n % 4);
    r.bytes_out = 100 * n;
    r.bytes_in = 1000 * n;
    r.packets_out = n;
    r.packets_in = 2 * n;
    r.event_json =
        "{\"seq\":" + std::to_string(n) + ",\"pad\":\"" + std::string(padding, 'x') + "\"}";
    return r;
}

} // namespace store_test
