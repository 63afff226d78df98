// container_test.cpp - parse_cgroup_path on the cgroup paths each runtime really creates.
#include "enrich/container.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

namespace policer::enrich {
// Whole-result comparison, so a test states everything a caller would look at.
bool operator==(const ContainerRef &a, const ContainerRef &b) {
    return a.runtime == b.runtime && a.id == b.id && a.pod_uid == b.pod_uid;
}
bool operator==(const CgroupIdentity &a, const CgroupIdentity &b) {
    return a.container == b.container && a.systemd_unit == b.systemd_unit;
}
} // namespace policer::enrich

namespace doctest {
template <>
struct StringMaker<policer::enrich::CgroupIdentity> {
    static String convert(const policer::enrich::CgroupIdentity &v) {
        std::string s = "{container=";
        if (v.container) {
            s += v.container->runtime + ":" + v.container->id + " pod=" + v.container->pod_uid;
        } else {
            s += "none";
        }
        s += ", unit=" + v.systemd_unit + "}";
        return String(s.c_str());
    }
};
} // namespace doctest

namespace {

using policer::enrich::CgroupIdentity;
using policer::enrich::ContainerRef;
using policer::enrich::parse_cgroup_path;

// Container ids are 64 lowercase hex digits; pod UIDs are UUIDs.
const std::string kId = "620a63c8e74d39cc01c3835b8dfb2ca817c1c9affa1287ed02a81625bb2c57aa";
const std::string kId2 = "c29f5f61ccad9908d2c203c0645dddf5589e1d843bea6e6626dbd56774b2188b";
const std::string kPod = "ac6787c8-8664-4240-bbd7-33780d3b8f45";
const std::string kPodUnderscores = "ac6787c8_8664_4240_bbd7_33780d3b8f45";

CgroupIdentity container(std::string runtime, std::string id, std::string pod_uid,
                         std::string unit) {
    return {ContainerRef{std::move(runtime), std::move(id), std::move(pod_uid), ""},
            std::move(unit), ""};
}

CgroupIdentity unit_only(std::string unit) {
    return {std::nullopt, std::move(unit), ""};
}

const CgroupIdentity kNothing{};

} // namespace

TEST_CASE("docker") {
    SUBCASE("systemd cgroup driver") {
        CHECK(parse_cgroup_path("/system.slice/docker-" + kId + ".scope") ==
              container("docker", kId, "", "docker-" + kId + ".scope"));
    }
    SUBCASE("cgroupfs driver") {
        CHECK(parse_cgroup_path("/docker/" + kId) == container("docker", kId, "", ""));
    }
    SUBCASE("custom cgroup parent, systemd driver") {
        CHECK(parse_cgroup_path("/mytests/docker-" + kId + ".scope") ==
              container("docker", kId, "", "docker-" + kId + ".scope"));
    }
    SUBCASE("rootless, systemd driver") {
        CHECK(parse_cgroup_path("/user.slice/user-1000.slice/user@1000.service/user.slice/docker-" +
                                kId + ".scope") ==
              container("docker", kId, "", "docker-" + kId + ".scope"));
    }
    SUBCASE("cri-dockerd in a Kubernetes pod slice") {
        CHECK(
            parse_cgroup_path("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" +
                              kPodUnderscores + ".slice/docker-" + kId + ".scope") ==
            container("docker", kId, kPod, "docker-" + kId + ".scope"));
    }
}

TEST_CASE("containerd through CRI, systemd driver") {
    const std::string scope = "cri-containerd-" + kId + ".scope";
    SUBCASE("burstable pod") {
        CHECK(parse_cgroup_path("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                                kPodUnderscores + ".slice/" + scope) ==
              container("containerd", kId, kPod, scope));
    }
    SUBCASE("best-effort pod") {
        CHECK(
            parse_cgroup_path("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" +
                              kPodUnderscores + ".slice/" + scope) ==
            container("containerd", kId, kPod, scope));
    }
    SUBCASE("guaranteed pod") {
        CHECK(parse_cgroup_path("/kubepods.slice/kubepods-pod" + kPodUnderscores + ".slice/" +
                                scope) == container("containerd", kId, kPod, scope));
    }
    SUBCASE("static pod: kubelet's md5 UID is returned as is") {
        const std::string md5 = "3b1c5e6d2f0a4c8e9d7b6a5f4e3d2c1b";
        CHECK(parse_cgroup_path("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                                md5 + ".slice/" + scope) ==
              container("containerd", kId, md5, scope));
    }
    SUBCASE("a malformed pod UID leaves the container, without a pod") {
        CHECK(parse_cgroup_path("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
                                "AC6787C8_8664_4240_BBD7_33780D3B8F45.slice/" +
                                scope) == container("containerd", kId, "", scope));
        CHECK(parse_cgroup_path("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
                                "ac6787c88_664_4240_bbd7_33780d3b8f45.slice/" +
                                scope) == container("containerd", kId, "", scope));
    }
}

TEST_CASE("containerd through CRI, cgroupfs driver") {
    SUBCASE("burstable pod") {
        CHECK(parse_cgroup_path("/kubepods/burstable/pod" + kPod + "/" + kId) ==
              container("containerd", kId, kPod, ""));
    }
    SUBCASE("best-effort pod") {
        CHECK(parse_cgroup_path("/kubepods/besteffort/pod" + kPod + "/" + kId) ==
              container("containerd", kId, kPod, ""));
    }
    SUBCASE("guaranteed pod") {
        CHECK(parse_cgroup_path("/kubepods/pod" + kPod + "/" + kId) ==
              container("containerd", kId, kPod, ""));
    }
    SUBCASE("the pod's own cgroup is no container") {
        CHECK(parse_cgroup_path("/kubepods/burstable/pod" + kPod) == kNothing);
    }
    SUBCASE("a bare id needs a pod directory under kubepods") {
        CHECK(parse_cgroup_path("/pod" + kPod + "/" + kId) == kNothing);
        CHECK(parse_cgroup_path("/kubepods/burstable/" + kId) == kNothing);
        CHECK(parse_cgroup_path("/kubepods/burstable/pod" + kPodUnderscores + "/" + kId) ==
              kNothing);
    }
    SUBCASE("a bare id under an unknown parent names no runtime") {
        CHECK(parse_cgroup_path("/mytests/" + kId) == kNothing);
    }
}

TEST_CASE("CRI-O") {
    const std::string pod_slice =
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kPodUnderscores +
        ".slice/";
    SUBCASE("systemd cgroup manager") {
        CHECK(parse_cgroup_path(pod_slice + "crio-" + kId + ".scope") ==
              container("cri-o", kId, kPod, "crio-" + kId + ".scope"));
    }
    SUBCASE("guaranteed pod") {
        CHECK(parse_cgroup_path("/kubepods.slice/kubepods-pod" + kPodUnderscores + ".slice/crio-" +
                                kId + ".scope") ==
              container("cri-o", kId, kPod, "crio-" + kId + ".scope"));
    }
    SUBCASE("conmon's scope is not the container") {
        CHECK(parse_cgroup_path(pod_slice + "crio-conmon-" + kId + ".scope") ==
              unit_only("crio-conmon-" + kId + ".scope"));
    }
    SUBCASE("cgroupfs cgroup manager") {
        CHECK(parse_cgroup_path("/kubepods/burstable/pod" + kPod + "/crio-" + kId) ==
              container("cri-o", kId, kPod, ""));
        CHECK(parse_cgroup_path("/kubepods/burstable/pod" + kPod + "/crio-conmon-" + kId) ==
              kNothing);
    }
}

TEST_CASE("podman") {
    const std::string scope = "libpod-" + kId + ".scope";
    SUBCASE("rootful, systemd cgroup manager") {
        CHECK(parse_cgroup_path("/machine.slice/" + scope) == container("podman", kId, "", scope));
    }
    SUBCASE("rootless") {
        CHECK(parse_cgroup_path("/user.slice/user-1000.slice/user@1000.service/user.slice/" +
                                scope) == container("podman", kId, "", scope));
    }
    SUBCASE("in a podman pod (not a Kubernetes pod: no pod UID)") {
        CHECK(parse_cgroup_path("/machine.slice/machine-libpod_pod_" + kId2 + ".slice/" + scope) ==
              container("podman", kId, "", scope));
    }
    SUBCASE("the \"container\" leaf some versions add is still that container") {
        CHECK(parse_cgroup_path("/machine.slice/" + scope + "/container") ==
              container("podman", kId, "", scope));
    }
    SUBCASE("cgroupfs cgroup manager") {
        CHECK(parse_cgroup_path("/libpod_parent/libpod-" + kId) ==
              container("podman", kId, "", ""));
    }
    SUBCASE("conmon's scope is not the container") {
        CHECK(parse_cgroup_path("/machine.slice/libpod-conmon-" + kId + ".scope") ==
              unit_only("libpod-conmon-" + kId + ".scope"));
        CHECK(parse_cgroup_path("/user.slice/user-1000.slice/user@1000.service/user.slice/"
                                "libpod-conmon-" +
                                kId + ".scope") == unit_only("libpod-conmon-" + kId + ".scope"));
    }
}

TEST_CASE("nested cgroups: the outermost container is the one reported") {
    const std::string scope = "docker-" + kId + ".scope";
    SUBCASE("systemd inside a container") {
        CHECK(parse_cgroup_path("/system.slice/" + scope + "/init.scope") ==
              container("docker", kId, "", scope));
        CHECK(parse_cgroup_path("/system.slice/" + scope + "/system.slice/nginx.service") ==
              container("docker", kId, "", scope));
    }
    SUBCASE("docker in docker") {
        CHECK(parse_cgroup_path("/docker/" + kId + "/docker/" + kId2) ==
              container("docker", kId, "", ""));
        CHECK(parse_cgroup_path("/system.slice/" + scope + "/docker/" + kId2) ==
              container("docker", kId, "", scope));
    }
    SUBCASE("a container cannot pass itself off as another") {
        CHECK(parse_cgroup_path("/system.slice/" + scope + "/docker-" + kId2 + ".scope") ==
              container("docker", kId, "", scope));
    }
    SUBCASE("a kind node: a pod inside a docker container is that container") {
        CHECK(
            parse_cgroup_path("/system.slice/" + scope +
                              "/kubelet.slice/kubelet-kubepods.slice/"
                              "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" +
                              kPodUnderscores + ".slice/cri-containerd-" + kId2 + ".scope") ==
            container("docker", kId, "", scope));
    }
    SUBCASE("kubelet's cgroup root is just a prefix") {
        CHECK(
            parse_cgroup_path("/kubelet.slice/kubelet-kubepods.slice/"
                              "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" +
                              kPodUnderscores + ".slice/cri-containerd-" + kId2 + ".scope") ==
            container("containerd", kId2, kPod, "cri-containerd-" + kId2 + ".scope"));
        CHECK(parse_cgroup_path("/kubelet/kubepods/besteffort/pod" + kPod + "/" + kId2) ==
              container("containerd", kId2, kPod, ""));
    }
}

TEST_CASE("systemd units outside containers") {
    CHECK(parse_cgroup_path("/system.slice/nginx.service") == unit_only("nginx.service"));
    CHECK(parse_cgroup_path("/user.slice/user-1000.slice/session-3.scope") ==
          unit_only("session-3.scope"));
    CHECK(
        parse_cgroup_path("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service") ==
        unit_only("foo.service"));
    CHECK(parse_cgroup_path("/user.slice/user-1000.slice/user@1000.service") ==
          unit_only("user@1000.service"));
    CHECK(parse_cgroup_path("/system.slice/system-getty.slice/getty@tty1.service") ==
          unit_only("getty@tty1.service"));
    CHECK(parse_cgroup_path("/init.scope") == unit_only("init.scope"));
    SUBCASE("escaped names are returned verbatim") {
        const std::string unit = R"(systemd-fsck@dev-disk-by\x2duuid-0a1b\x2d2c3d.service)";
        CHECK(parse_cgroup_path("/system.slice/system-systemd\\x2dfsck.slice/" + unit) ==
              unit_only(unit));
    }
    SUBCASE("a unit's own sub-cgroups keep the unit") {
        CHECK(parse_cgroup_path("/system.slice/containerd.service/supervisor") ==
              unit_only("containerd.service"));
    }
    SUBCASE("slices and bare suffixes are not units") {
        CHECK(parse_cgroup_path("/system.slice") == kNothing);
        CHECK(parse_cgroup_path("/user.slice/user-1000.slice") == kNothing);
        CHECK(parse_cgroup_path("/system.slice/.service") == kNothing);
        CHECK(parse_cgroup_path("/system.slice/.scope") == kNothing);
    }
}

TEST_CASE("ids that are not 64 lowercase hex digits are no container") {
    const std::string id63 = kId.substr(1);
    const std::string id65 = kId + "0";
    std::string upper = kId;
    upper[0] = 'A';
    std::string non_hex = kId;
    non_hex[10] = 'g';
    for (const std::string &bad : {id63, id65, upper, non_hex, std::string()}) {
        CAPTURE(bad);
        CHECK(parse_cgroup_path("/system.slice/docker-" + bad + ".scope") ==
              unit_only("docker-" + bad + ".scope"));
        CHECK(parse_cgroup_path("/docker/" + bad) == kNothing);
        CHECK(parse_cgroup_path("/kubepods/burstable/pod" + kPod + "/" + bad) == kNothing);
        CHECK(parse_cgroup_path("/machine.slice/libpod-" + bad + ".scope") ==
              unit_only("libpod-" + bad + ".scope"));
        CHECK(parse_cgroup_path("/libpod_parent/libpod-" + bad) == kNothing);
    }
    SUBCASE("the runtime's prefix must be exact") {
        CHECK(parse_cgroup_path("/system.slice/xdocker-" + kId + ".scope") ==
              unit_only("xdocker-" + kId + ".scope"));
        CHECK(parse_cgroup_path("/system.slice/docker-" + kId + ".service") ==
              unit_only("docker-" + kId + ".service"));
    }
}

TEST_CASE("malformed paths") {
    CHECK(parse_cgroup_path("") == kNothing);
    CHECK(parse_cgroup_path("/") == kNothing);
    CHECK(parse_cgroup_path("//") == kNothing);
    CHECK(parse_cgroup_path("///system.slice//nginx.service//") == unit_only("nginx.service"));
    CHECK(parse_cgroup_path("/system.slice/docker-" + kId + ".scope/") ==
          container("docker", kId, "", "docker-" + kId + ".scope"));
    CHECK(parse_cgroup_path("docker/" + kId) == container("docker", kId, "", ""));
    CHECK(parse_cgroup_path(std::string("/system.slice/\0/nginx.service", 29)) ==
          unit_only("nginx.service"));
}

TEST_CASE("very long paths take linear time") {
    using Clock = std::chrono::steady_clock;
    const std::size_t size = 100 * 1024;
    const auto started = Clock::now();
    std::string slashes(size, '/');
    CHECK(parse_cgroup_path(slashes) == kNothing);
    std::string hex(size, 'a');
    CHECK(parse_cgroup_path("/docker/" + hex) == kNothing);
    std::string deep;
    while (deep.size() < size)
        deep += "/a.slice";
    CHECK(parse_cgroup_path(deep + "/docker-" + kId + ".scope") ==
          container("docker", kId, "", "docker-" + kId + ".scope"));
    std::string units;
    while (units.size() < size)
        units += "/x.service";
    CHECK(parse_cgroup_path(units) == unit_only("x.service"));
    std::string pods;
    while (pods.size() < size)
        pods += "/kubepods/pod" + kPod;
    CHECK(parse_cgroup_path(pods + "/" + kId) == container("containerd", kId, kPod, ""));
    // Linear work on these is well under a millisecond each; a quadratic scan of thousands of
    // components would take seconds.
    CHECK(Clock::now() - started < std::chrono::seconds(1));
}

TEST_CASE("the container's and the unit's own cgroups are named, for the ownership check") {
    auto id = parse_cgroup_path("/system.slice/docker-" + kId + ".scope/init.scope");
    REQUIRE(id.container);
    CHECK(id.container->cgroup == "/system.slice/docker-" + kId + ".scope");
    CHECK(id.unit_cgroup == "/system.slice/docker-" + kId + ".scope");

    auto k8s = parse_cgroup_path("/kubepods/burstable/pod" + kPod + "/" + kId);
    REQUIRE(k8s.container);
    CHECK(k8s.container->cgroup == "/kubepods/burstable/pod" + kPod + "/" + kId);

    auto svc =
        parse_cgroup_path("/user.slice/user-1000.slice/user@1000.service/app.slice/x.service");
    CHECK(svc.unit_cgroup == "/user.slice/user-1000.slice/user@1000.service/app.slice/x.service");
}
