// proc_reader.cpp - see proc_reader.h.
#include "enrich/proc_reader.h"

#include "common/text.h"
#include "enrich/kernel_strings.h"

#include <cerrno>
#include <charconv>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <memory>

namespace policer::enrich {
namespace {

template <typename T>
bool parse_num(std::string_view s, T &out) {
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Splits on runs of spaces and tabs.
std::vector<std::string_view> split_ws(std::string_view s) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
            ++i;
        size_t j = i;
        while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\n')
            ++j;
        if (j > i) out.push_back(s.substr(i, j - i));
        if (j < s.size() && s[j] == '\n') break;
        i = j;
    }
    return out;
}

} // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
    size_t open = text.find('(');
    size_t close = text.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open)
        return std::nullopt;
    ProcStat st;
    std::string_view pid = text.substr(0, open);
    while (!pid.empty() && pid.back() == ' ')
        pid.remove_suffix(1);
    if (!parse_num(pid, st.pid)) return std::nullopt;
    st.comm = std::string(text.substr(open + 1, close - open - 1));

    // After ")": state(3) ppid(4) ... starttime(22); fields[0] is field 3.
    auto fields = split_ws(text.substr(close + 1));
    if (fields.size() < 20 || fields[0].size() != 1) return std::nullopt;
    st.state = fields[0][0];
    if (!parse_num(fields[1], st.ppid)) return std::nullopt;
    if (!parse_num(fields[19], st.start_ticks)) return std::nullopt;
    return st;
}

std::optional<ProcIds> parse_proc_status_ids(std::string_view text) {
    ProcIds ids;
    bool have_uid = false, have_gid = false;
    bool bad = for_each_line(text, [&](std::string_view line) {
        bool is_uid = line.rfind("Uid:", 0) == 0, is_gid = line.rfind("Gid:", 0) == 0;
        if (!is_uid && !is_gid) return false;
        auto f = split_ws(line.substr(4)); // real effective saved fs
        uint32_t real = 0, eff = 0;
        if (f.size() < 2 || !parse_num(f[0], real) || !parse_num(f[1], eff)) return true;
        (is_uid ? ids.uid : ids.gid) = real;
        (is_uid ? ids.euid : ids.egid) = eff;
        (is_uid ? have_uid : have_gid) = true;
        return false;
    });
    if (bad || !have_uid || !have_gid) return std::nullopt;
    return ids;
}

std::optional<std::string> parse_proc_cgroup_v2(std::string_view text) {
    std::optional<std::string> path;
    for_each_line(text, [&](std::string_view line) {
        if (line.rfind("0::", 0) != 0) return false;
        path = std::string(line.substr(3));
        return true;
    });
    return path;
}

std::optional<std::string> read_file_bounded(const std::string &path, size_t max_bytes) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string out;
    out.resize(max_bytes);
    size_t used = 0;
    while (used < max_bytes) {
        ssize_t n = ::read(fd, out.data() + used, max_bytes - used);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        used += static_cast<size_t>(n);
    }
    ::close(fd);
    out.resize(used);
    return out;
}

ProcReader::ProcReader(std::string root, size_t max_args_bytes)
    : root_(std::move(root)), max_args_bytes_(max_args_bytes) {
    long hz = sysconf(_SC_CLK_TCK);
    tick_ns_ = hz > 0 ? 1000000000ull / static_cast<uint64_t>(hz) : 10000000ull;
}

std::vector<uint32_t> ProcReader::list_pids() const {
    std::vector<uint32_t> pids;
    std::unique_ptr<DIR, int (*)(DIR *)> dir(::opendir(root_.c_str()), ::closedir);
    if (!dir) return pids;
    while (dirent *de = ::readdir(dir.get())) {
        uint32_t pid;
        if (parse_num(std::string_view(de->d_name), pid) && pid > 0) pids.push_back(pid);
    }
    return pids;
}

uint32_t kernel_dev(uint64_t user_dev) {
    return static_cast<uint32_t>((major(user_dev) << 20) | (minor(user_dev) & 0xfffff));
}

std::vector<std::string> ProcReader::read_args(uint32_t pid) const {
    auto args = read_file_bounded(root_ + "/" + std::to_string(pid) + "/cmdline", max_args_bytes_);
    return args ? split_args(*args) : std::vector<std::string>{};
}

std::optional<ProcSnapshot> ProcReader::read(uint32_t pid, bool with_args) const {
    const std::string dir = root_ + "/" + std::to_string(pid);
    auto stat_text = read_file_bounded(dir + "/stat", 4096);
    if (!stat_text) return std::nullopt;
    auto st = parse_proc_stat(*stat_text);
    if (!st) return std::nullopt;
    auto status_text = read_file_bounded(dir + "/status", 16384);
    if (!status_text) return std::nullopt;
    auto ids = parse_proc_status_ids(*status_text);
    if (!ids) return std::nullopt;

    ProcSnapshot p;
    p.tgid = pid;
    p.ppid = static_cast<uint32_t>(st->ppid);
    p.start_ns = st->start_ticks * tick_ns_;
    p.ids = *ids;
    p.comm = std::move(st->comm);

    char buf[4096];
    ssize_t n = ::readlink((dir + "/exe").c_str(), buf, sizeof(buf) - 1);
    if (n > 0) p.exe.assign(buf, static_cast<size_t>(n));
    struct stat exe_st {};
    if (n > 0 && ::stat((dir + "/exe").c_str(), &exe_st) == 0) {
        p.exe_ino = exe_st.st_ino;
        p.exe_dev = kernel_dev(exe_st.st_dev);
    }
    if (with_args) p.args = read_args(pid);
    if (auto cg = read_file_bounded(dir + "/cgroup", 16384))
        p.cgroup = parse_proc_cgroup_v2(*cg).value_or("");
    return p;
}

} // namespace policer::enrich
