// container_names_test.cpp - ContainerNames on real files laid out as docker and podman lay
// them out, in a temporary directory standing in for /var/lib/docker and
// /var/lib/containers/storage; and the JSON readers on the runtimes' formats.
//
// The trust checks want root-owned files, so the tests that read files need root (as CI runs
// them); elsewhere they say so and pass without checking anything.
#include "enrich/container_names.h"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace {

namespace fs = std::filesystem;
using policer::enrich::ContainerNames;
using policer::enrich::ContainerRef;
using policer::enrich::docker_name_from_config;
using policer::enrich::is_valid_container_name;
using policer::enrich::podman_name_from_containers;

const std::string kId = "620a63c8e74d39cc01c3835b8dfb2ca817c1c9affa1287ed02a81625bb2c57aa";
const std::string kId2 = "c29f5f61ccad9908d2c203c0645dddf5589e1d843bea6e6626dbd56774b2188b";
constexpr uint64_t kSec = 1000000000ull;
constexpr uint64_t kT0 = 1000 * kSec; // an arbitrary start on the caller's clock
constexpr uint32_t kNobody = 65534;

// A trimmed config.v2.json as docker 24 writes it: the name sits among nested objects.
std::string docker_config(const std::string &id, const std::string &name) {
    return R"({"StreamConfig":{},"State":{"Running":true,"Pid":4242,"Health":null},"ID":")" + id +
           R"(","Created":"2024-05-02T09:12:44.1Z","Path":"nginx","Args":["-g","daemon off;"],)"
           R"("Config":{"Hostname":"620a63c8e74d","Env":["PATH=/usr/bin"],"Labels":{"a":"b"}},)"
           R"("Image":"sha256:a8758716bb6a","Name":")" +
           name + R"(","RestartCount":0,"Driver":"overlay2","MountPoints":{}})";
}

// One entry of podman's containers.json (containers/storage), trimmed the same way.
std::string podman_entry(const std::string &id, const std::string &names) {
    return R"({"id":")" + id + R"(","names":)" + names +
           R"(,"image":"e4720093a3c1","layer":"3b0cf7","metadata":"{\"image-name\":\"nginx\"}",)"
           R"("big-data-names":["volatile-container.json"],"created":"2024-05-02T09:12:44Z",)"
           R"("flags":{"MountLabel":""}})";
}

ContainerRef docker(const std::string &id) {
    return ContainerRef{"docker", id, "", "/system.slice/docker-" + id + ".scope"};
}

ContainerRef podman(const std::string &id) {
    return ContainerRef{"podman", id, "", "/machine.slice/libpod-" + id + ".scope"};
}

bool running_as_root() {
    if (geteuid() == 0) return true;
    MESSAGE("not root: the files cannot be root-owned, so this test checks nothing");
    return false;
}

// A temporary directory holding a docker root and a podman root, every directory 0700 and
// every file 0600 (whatever the umask), as the runtimes make them. Removed at the end.
struct Roots {
    fs::path base;
    ContainerNames::Roots roots;

    Roots() {
        char tmpl[] = "/tmp/policer-names-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        base = tmpl;
        roots.docker = (base / "docker").string();
        roots.podman = (base / "storage").string();
        mkdirs(roots.docker);
        mkdirs(roots.podman);
    }
    ~Roots() {
        std::error_code ec;
        fs::remove_all(base, ec);
    }

    static void mkdirs(const fs::path &dir) {
        fs::create_directories(dir);
        fs::permissions(dir, fs::perms::owner_all);
    }

    static void write(const fs::path &file, const std::string &content) {
        mkdirs(file.parent_path());
        std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
        fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
    }

    fs::path docker_dir(const std::string &id) const {
        return fs::path(roots.docker) / "containers" / id;
    }
    fs::path docker_file(const std::string &id) const { return docker_dir(id) / "config.v2.json"; }
    fs::path podman_file() const {
        return fs::path(roots.podman) / "overlay-containers" / "containers.json";
    }

    void docker_container(const std::string &id, const std::string &name) const {
        write(docker_file(id), docker_config(id, name));
    }
};

} // namespace

TEST_CASE("container names: the allowed name syntax") {
    CHECK(is_valid_container_name("web"));
    CHECK(is_valid_container_name("a"));
    CHECK(is_valid_container_name("my_app.v2-blue"));
    CHECK(is_valid_container_name("k8s_nginx_nginx-7c5ddbdf54-x2x4p_default_ac6787c8_0"));
    CHECK(is_valid_container_name(std::string(255, 'x')));
    CHECK_FALSE(is_valid_container_name(""));
    CHECK_FALSE(is_valid_container_name(std::string(256, 'x')));
    CHECK_FALSE(is_valid_container_name("-web"));
    CHECK_FALSE(is_valid_container_name(".hidden"));
    CHECK_FALSE(is_valid_container_name("/web"));
    CHECK_FALSE(is_valid_container_name("web app"));
    CHECK_FALSE(is_valid_container_name("web\nERROR fake log line"));
    CHECK_FALSE(is_valid_container_name(std::string("web\0x", 5)));
    CHECK_FALSE(is_valid_container_name(std::string("w\xc3\xa9") + "b")); // non-ASCII
}

TEST_CASE("container names: docker config.v2.json") {
    CHECK(docker_name_from_config(docker_config(kId, "/web")) == "web");
    CHECK(docker_name_from_config(docker_config(kId, "web")) == "web");
    // Only the top-level "Name" counts, not one nested in another object.
    CHECK(docker_name_from_config(R"({"Config":{"Name":"inner"}})") == std::nullopt);
    CHECK(docker_name_from_config(R"({"Config":{"Name":"inner"},"Name":"/outer"})") == "outer");
    CHECK(docker_name_from_config(R"({"Name":5})") == std::nullopt);
    CHECK(docker_name_from_config(R"({"Name":"/"})") == std::nullopt);
    CHECK(docker_name_from_config(R"({"Name":"//web"})") == std::nullopt);
    CHECK(docker_name_from_config(R"({"Name":"/../../etc"})") == std::nullopt);
    CHECK(docker_name_from_config(R"(["Name","/web"])") == std::nullopt);
    CHECK(docker_name_from_config("") == std::nullopt);
    CHECK_NOTHROW(docker_name_from_config(R"({"Name":"/web")"));
    CHECK(docker_name_from_config(R"({"Name":"/web")") == std::nullopt);
    CHECK(docker_name_from_config("\xff\xfe{}") == std::nullopt);
    // Deep nesting is skipped as it is parsed, not built: no stack or memory blow-up.
    std::string deep =
        R"({"X":)" + std::string(200000, '[') + std::string(200000, ']') + R"(,"Name":"/deep"})";
    CHECK(docker_name_from_config(deep) == "deep");
}

TEST_CASE("container names: podman containers.json") {
    std::string json = "[" + podman_entry(kId2, R"(["other"])") + "," +
                       podman_entry(kId, R"(["web","alias"])") + "]";
    CHECK(podman_name_from_containers(json, kId) == "web");
    CHECK(podman_name_from_containers(json, kId2) == "other");
    CHECK(podman_name_from_containers(json, std::string(64, 'a')) == std::nullopt);
    CHECK(podman_name_from_containers("[" + podman_entry(kId, "[]") + "]", kId) == std::nullopt);
    CHECK(podman_name_from_containers("[" + podman_entry(kId, R"([7])") + "]", kId) ==
          std::nullopt);
    CHECK(podman_name_from_containers("[" + podman_entry(kId, R"(["bad name"])") + "]", kId) ==
          std::nullopt);
    CHECK(podman_name_from_containers(R"({"id":")" + kId + R"(","names":["web"]})", kId) ==
          std::nullopt);
    CHECK(podman_name_from_containers("[1,null,\"x\"," + podman_entry(kId, R"(["web"])") + "]",
                                      kId) == "web");
    CHECK_NOTHROW(podman_name_from_containers("[{\"id\":", kId));
    CHECK(podman_name_from_containers("[{\"id\":", kId) == std::nullopt);
}

TEST_CASE("container names: a docker container's name, without the leading slash") {
    if (!running_as_root()) return;
    Roots r;
    r.docker_container(kId, "/web");
    r.docker_container(kId2, "/db");
    ContainerNames names(r.roots, 16);
    CHECK(names.name(docker(kId), kT0) == "web");
    CHECK(names.name(docker(kId2), kT0) == "db");
}

TEST_CASE("container names: a podman container's first name") {
    if (!running_as_root()) return;
    Roots r;
    Roots::write(r.podman_file(), "[" + podman_entry(kId2, R"(["db"])") + "," +
                                      podman_entry(kId, R"(["web","alias"])") + "]");
    ContainerNames names(r.roots, 16);
    CHECK(names.name(podman(kId), kT0) == "web");
    CHECK(names.name(podman(kId2), kT0) == "db");
    // The runtime in the reference decides where to look: kId is no docker container.
    CHECK(names.name(docker(kId), kT0) == std::nullopt);
}

TEST_CASE("container names: containerd and cri-o keep no name on disk we read") {
    Roots r;
    ContainerNames names(r.roots, 16);
    CHECK(names.name(ContainerRef{"containerd", kId, "", ""}, kT0) == std::nullopt);
    CHECK(names.name(ContainerRef{"cri-o", kId, "", ""}, kT0) == std::nullopt);
    CHECK(names.name(ContainerRef{"", kId, "", ""}, kT0) == std::nullopt);
    CHECK(names.size() == 0);
}

TEST_CASE("container names: a file that appears later is found once the unknown answer expires") {
    if (!running_as_root()) return;
    Roots r;
    ContainerNames names(r.roots, 16);
    CHECK(names.name(docker(kId), kT0) == std::nullopt);
    r.docker_container(kId, "/late");
    // The unknown answer stands for kUnknownTtlNs (2 s)...
    CHECK(names.name(docker(kId), kT0 + ContainerNames::kUnknownTtlNs - 1) == std::nullopt);
    // ...and is retried after.
    CHECK(names.name(docker(kId), kT0 + ContainerNames::kUnknownTtlNs) == "late");
}

TEST_CASE("container names: found names are cached for their TTL, and forget() drops them") {
    if (!running_as_root()) return;
    Roots r;
    r.docker_container(kId, "/before");
    ContainerNames names(r.roots, 16);
    CHECK(names.name(docker(kId), kT0) == "before");

    r.docker_container(kId, "/after"); // docker rename
    uint64_t t = kT0 + ContainerNames::kFoundTtlNs - 1;
    CHECK(names.name(docker(kId), t) == "before");
    CHECK(names.name(docker(kId), kT0 + ContainerNames::kFoundTtlNs) == "after");

    r.docker_container(kId, "/again");
    names.forget(kId);
    CHECK(names.size() == 0);
    CHECK(names.name(docker(kId), kT0 + ContainerNames::kFoundTtlNs + 1) == "again");

    // A clock that goes backwards does not keep an entry alive: it is read again.
    r.docker_container(kId, "/back");
    CHECK(names.name(docker(kId), kT0) == "back");
}

TEST_CASE("container names: TTLs are the constructor's, and the cache is bounded") {
    if (!running_as_root()) return;
    Roots r;
    r.docker_container(kId, "/one");
    r.docker_container(kId2, "/two");
    ContainerNames names(r.roots, 1, 10 * kSec, 1 * kSec);
    CHECK(names.name(docker(kId), kT0) == "one");
    r.docker_container(kId, "/uno");
    CHECK(names.name(docker(kId), kT0 + 9 * kSec) == "one");
    CHECK(names.name(docker(kId), kT0 + 10 * kSec) == "uno");
    CHECK(names.name(docker(kId2), kT0 + 10 * kSec) == "two");
    CHECK(names.size() == 1);
    CHECK_THROWS_AS(ContainerNames(r.roots, 0), std::invalid_argument);
}

TEST_CASE("container names: malformed JSON and unacceptable names give nullopt") {
    if (!running_as_root()) return;
    Roots r;
    ContainerNames names(r.roots, 16);
    Roots::write(r.docker_file(kId), R"({"ID":"x","Name":"/web")"); // cut short
    CHECK_NOTHROW(CHECK(names.name(docker(kId), kT0) == std::nullopt));
    r.docker_container(kId2, "/web; rm -rf /");
    CHECK(names.name(docker(kId2), kT0) == std::nullopt);
    Roots::write(r.podman_file(), "not json");
    CHECK_NOTHROW(CHECK(names.name(podman(kId), kT0) == std::nullopt));
}

TEST_CASE("container names: a file over the size bound is not read") {
    if (!running_as_root()) return;
    Roots r;
    // Valid JSON with a valid name, padded past 1 MiB.
    std::string big =
        R"({"Pad":")" + std::string(ContainerNames::kMaxFileBytes, 'x') + R"(","Name":"/big"})";
    Roots::write(r.docker_file(kId), big);
    ContainerNames names(r.roots, 16);
    CHECK(names.name(docker(kId), kT0) == std::nullopt);
    // Just under the bound is fine.
    std::string fits = R"({"Name":"/fits","Pad":")";
    fits += std::string(ContainerNames::kMaxFileBytes - fits.size() - 2, 'x') + "\"}";
    REQUIRE(fits.size() == ContainerNames::kMaxFileBytes);
    Roots::write(r.docker_file(kId2), fits);
    CHECK(names.name(docker(kId2), kT0) == "fits");
}

TEST_CASE("container names: ids that are not 64 lowercase hex digits build no path") {
    Roots r;
    // Each bad id names a real file that would be read if the id were used as a path.
    std::string upper = kId;
    for (char &c : upper)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string shortid = kId.substr(0, 12);
    std::string traversal = "../../planted"; // docker/containers/../../planted
    for (const std::string &id : {upper, shortid})
        Roots::write(r.docker_file(id), docker_config(id, "/x"));
    Roots::write(r.base / "planted" / "config.v2.json", docker_config(kId, "/planted"));

    std::string with_nul = kId;
    with_nul[10] = '\0';
    ContainerNames names(r.roots, 16);
    for (const std::string &id :
         {upper, shortid, traversal, std::string(64, '.'), kId.substr(0, 63) + "/",
          kId.substr(0, 63) + "g", kId + "0", std::string(), with_nul}) {
        CAPTURE(id);
        CHECK(names.name(docker(id), kT0) == std::nullopt);
        CHECK(names.name(podman(id), kT0) == std::nullopt);
    }
    CHECK(names.size() == 0); // not even a cached "unknown": nothing was looked up
}

TEST_CASE("container names: files and directories that are not root's alone are refused") {
    if (!running_as_root()) return;
    Roots r;
    r.docker_container(kId, "/web");
    ContainerNames::Roots roots = r.roots;
    auto lookup = [&] { return ContainerNames(roots, 16).name(docker(kId), kT0); };
    REQUIRE(lookup() == "web");

    SUBCASE("group-writable file") {
        fs::permissions(r.docker_file(kId), fs::perms::group_write, fs::perm_options::add);
        CHECK(lookup() == std::nullopt);
    }
    SUBCASE("world-writable file") {
        fs::permissions(r.docker_file(kId), fs::perms::others_write, fs::perm_options::add);
        CHECK(lookup() == std::nullopt);
    }
    SUBCASE("file owned by another user") {
        REQUIRE(::chown(r.docker_file(kId).c_str(), kNobody, kNobody) == 0);
        CHECK(lookup() == std::nullopt);
    }
    SUBCASE("container directory owned by another user") {
        REQUIRE(::chown(r.docker_dir(kId).c_str(), kNobody, 0) == 0);
        CHECK(lookup() == std::nullopt);
    }
    SUBCASE("containers directory writable by its group") {
        fs::permissions(fs::path(r.roots.docker) / "containers", fs::perms::group_write,
                        fs::perm_options::add);
        CHECK(lookup() == std::nullopt);
    }
    SUBCASE("the root itself owned by another user") {
        REQUIRE(::chown(r.roots.docker.c_str(), kNobody, kNobody) == 0);
        CHECK(lookup() == std::nullopt);
    }
    SUBCASE("read-only for group and others is fine") {
        fs::permissions(r.docker_file(kId), fs::perms::group_read | fs::perms::others_read,
                        fs::perm_options::add);
        REQUIRE(::chown(r.docker_file(kId).c_str(), 0, kNobody) == 0); // group is not root's
        CHECK(lookup() == "web");
    }
}

TEST_CASE("container names: symlinks below the root are refused, the root may be one") {
    if (!running_as_root()) return;
    Roots r;
    // A genuine, root-owned config elsewhere: the symlink is what is refused, not its target.
    Roots::write(r.base / "elsewhere" / "config.v2.json", docker_config(kId, "/linked"));
    ContainerNames::Roots roots = r.roots;
    auto lookup = [&] { return ContainerNames(roots, 16).name(docker(kId), kT0); };

    SUBCASE("config.v2.json is a symlink") {
        Roots::mkdirs(r.docker_dir(kId));
        fs::create_symlink(r.base / "elsewhere" / "config.v2.json", r.docker_file(kId));
        CHECK(lookup() == std::nullopt);
    }
    SUBCASE("the container directory is a symlink") {
        Roots::mkdirs(fs::path(r.roots.docker) / "containers");
        fs::create_directory_symlink(r.base / "elsewhere", r.docker_dir(kId));
        CHECK(lookup() == std::nullopt);
    }
    SUBCASE("the configured root is a symlink to the real one") {
        r.docker_container(kId, "/web");
        fs::create_directory_symlink(r.roots.docker, r.base / "docker-link");
        roots.docker = (r.base / "docker-link").string();
        CHECK(lookup() == "web");
    }
}

TEST_CASE("container names: a FIFO in place of the file is refused without blocking") {
    if (!running_as_root()) return;
    Roots r;
    Roots::mkdirs(r.docker_dir(kId));
    REQUIRE(::mkfifo(r.docker_file(kId).c_str(), 0600) == 0);
    ContainerNames names(r.roots, 16);
    CHECK(names.name(docker(kId), kT0) == std::nullopt);
}

TEST_CASE("container names: no runtime state at all is simply unknown") {
    ContainerNames::Roots roots;
    roots.docker = "/nonexistent/policer-test/docker";
    roots.podman = "/nonexistent/policer-test/storage";
    ContainerNames names(roots, 16);
    CHECK(names.name(docker(kId), kT0) == std::nullopt);
    CHECK(names.name(podman(kId), kT0) == std::nullopt);
}
