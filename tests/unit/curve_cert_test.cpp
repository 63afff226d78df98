// curve_cert_test.cpp - CURVE certificates in czmq's zcert format: what `policer keygen` writes
// (layout, file modes, no overwriting, no following links), what policerd accepts (strict
// parsing, secret files kept private, a clients directory that fails closed), and agent.id.
#include "policer/agent_id.h"
#include "policer/curve_cert.h"

#include "temp_dir.h"

#include <doctest/doctest.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace {

using namespace policer::curve;

using unit_test::TempDir;

std::string slurp(const std::string &path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void spit(const std::string &path, const std::string &text, mode_t mode = 0644) {
    std::ofstream(path) << text;
    REQUIRE(chmod(path.c_str(), mode) == 0);
}

mode_t mode_of(const std::string &path) {
    struct stat st {};
    REQUIRE(lstat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

bool contains(const std::string &hay, const std::string &needle) {
    return hay.find(needle) != std::string::npos;
}

CurveKeys fresh() {
    auto k = generate_keys();
    REQUIRE(k.ok());
    return *k;
}

// A certificate as czmq's zcert_save lays one out, with the given curve entries.
std::string czmq_text(const std::string &curve_entries) {
    return "#   ****  Generated on 2024-05-01 10:00:00 by CZMQ  ****\n"
           "#   ZeroMQ CURVE **Secret** Certificate\n"
           "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n"
           "\n"
           "metadata\n"
           "    email = \"ops@example.org\"\n"
           "curve\n" +
           curve_entries;
}

} // namespace

TEST_CASE("a generated key pair is two 40-character Z85 keys that belong together") {
    CurveKeys k = fresh();
    CHECK(is_z85_key(k.public_z85));
    CHECK(is_z85_key(k.secret_z85));
    CHECK(k.public_z85 != k.secret_z85);
    auto parsed = parse_cert(secret_cert_text(k, "x"), true);
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
    CHECK(parsed->public_z85 == k.public_z85);
    CHECK(parsed->secret_z85 == k.secret_z85);
    CHECK(fresh().public_z85 != k.public_z85);
}

TEST_CASE("is_z85_key refuses wrong lengths, foreign characters and overflowing groups") {
    const std::string good = fresh().public_z85;
    CHECK(is_z85_key(good));
    CHECK_FALSE(is_z85_key(good.substr(0, 39)));
    CHECK_FALSE(is_z85_key(good + "0"));
    std::string bad = good;
    bad[7] = '"'; // not in the Z85 alphabet
    CHECK_FALSE(is_z85_key(bad));
    bad = good;
    bad[3] = ' ';
    CHECK_FALSE(is_z85_key(bad));
    // "#####" is 85^5 - 1: more than 32 bits.
    CHECK_FALSE(is_z85_key("#####" + good.substr(5)));
}

TEST_CASE("keygen files round trip in czmq's layout with modes 0644 and 0600") {
    TempDir d;
    CurveKeys k = fresh();
    auto st = write_cert_pair(d.path, "server", k, false);
    REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message));
    const std::string pub = d.file("server.cert"), sec = d.file("server.cert_secret");
    CHECK(mode_of(pub) == 0644);
    CHECK(mode_of(sec) == 0600);
    const std::string ptext = slurp(pub), stext = slurp(sec);
    // czmq's zcert_load resolves /curve/public-key and /curve/secret-key: sections at column 0,
    // entries indented by 4 spaces, values quoted.
    CHECK(contains(ptext, "\nmetadata\n    name = \"server\"\ncurve\n    public-key = \"" +
                              k.public_z85 + "\"\n"));
    CHECK_FALSE(contains(ptext, "secret-key"));
    CHECK_FALSE(contains(ptext, k.secret_z85));
    CHECK(contains(stext, "\ncurve\n    public-key = \"" + k.public_z85 +
                              "\"\n    secret-key = \"" + k.secret_z85 + "\"\n"));
    CHECK(ptext.rfind("#", 0) == 0);

    auto p = read_cert_file(pub, false);
    REQUIRE(p.ok());
    CHECK(p->public_z85 == k.public_z85);
    CHECK(p->secret_z85.empty());
    auto s = read_cert_file(sec, true);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    CHECK(s->secret_z85 == k.secret_z85);
    // A public certificate is not a secret one (by its mode, and by its contents).
    auto not_secret = read_cert_file(pub, true);
    REQUIRE_FALSE(not_secret.ok());
    CHECK(contains(not_secret.error().message, "chmod 600"));
    CHECK(contains(parse_cert(ptext, true).error().message, "secret-key"));
}

TEST_CASE("keygen never overwrites unless forced and never writes through a planted link") {
    TempDir d;
    CurveKeys first = fresh();
    REQUIRE(write_cert_pair(d.path, "sub", first, false).ok());
    auto again = write_cert_pair(d.path, "sub", fresh(), false);
    REQUIRE_FALSE(again.ok());
    CHECK(contains(again.error().message, "exists"));
    CHECK(read_cert_file(d.file("sub.cert_secret"), true)->secret_z85 == first.secret_z85);

    CurveKeys second = fresh();
    REQUIRE(write_cert_pair(d.path, "sub", second, true).ok());
    CHECK(read_cert_file(d.file("sub.cert_secret"), true)->secret_z85 == second.secret_z85);
    CHECK(mode_of(d.file("sub.cert_secret")) == 0600);

    // A link where the secret file goes: refused, and --force replaces the link, not its target.
    spit(d.file("victim"), "precious\n");
    REQUIRE(symlink(d.file("victim").c_str(), d.file("trap.cert_secret").c_str()) == 0);
    REQUIRE_FALSE(write_cert_pair(d.path, "trap", fresh(), false).ok());
    CHECK_FALSE(std::filesystem::exists(d.file("trap.cert")));
    REQUIRE(write_cert_pair(d.path, "trap", fresh(), true).ok());
    CHECK(slurp(d.file("victim")) == "precious\n");
    CHECK(mode_of(d.file("trap.cert_secret")) == 0600);

    // Names that are paths or hidden files are refused.
    for (const char *bad : {"../x", "a/b", ".hidden", ""})
        CHECK_FALSE(write_cert_pair(d.path, bad, fresh(), false).ok());
    CHECK_FALSE(write_cert_pair(d.file("missing"), "x", fresh(), false).ok());
}

TEST_CASE("certificates written by czmq are read") {
    CurveKeys k = fresh();
    auto parsed = parse_cert(czmq_text("    public-key = \"" + k.public_z85 +
                                       "\"\n    secret-key = \"" + k.secret_z85 + "\"\n"),
                             true);
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
    CHECK(parsed->public_z85 == k.public_z85);
    // Single quotes and a trailing comment are ZPL too.
    auto single =
        parse_cert(czmq_text("    public-key = '" + k.public_z85 + "'   # server\n"), false);
    REQUIRE(single.ok());
    CHECK(single->public_z85 == k.public_z85);
}

TEST_CASE("strict parsing refuses broken certificates with the line at fault") {
    CurveKeys k = fresh(), other = fresh();
    const std::string pub = "    public-key = \"" + k.public_z85 + "\"\n";
    struct Case {
        std::string text;
        bool secret;
        const char *why;
    };
    const Case cases[] = {
        {czmq_text(""), false, "no curve/public-key"},
        {czmq_text("    public-key = \"" + k.public_z85.substr(0, 39) + "\"\n"), false, "Z85"},
        {czmq_text("    public-key = \"" + k.public_z85 + "x\"\n"), false, "Z85"},
        {czmq_text("\tpublic-key = \"" + k.public_z85 + "\"\n"), false, "tab"},
        {czmq_text("  public-key = \"" + k.public_z85 + "\"\n"), false, "indentation"},
        {czmq_text("        public-key = \"" + k.public_z85 + "\"\n"), false, "indentation"},
        {czmq_text("    public-key = \"" + k.public_z85 + "\n"), false, "unterminated"},
        {czmq_text(pub + pub), false, "second"},
        {czmq_text(pub + "    private-key = \"x\"\n"), false, "unknown key"},
        {czmq_text("    public-key\n"), false, "no value"},
        {czmq_text(pub + "    secret-key = \"" + other.secret_z85 + "\"\n"), true,
         "does not belong"},
        {czmq_text(pub), true, "secret-key"},
        {"    public-key = \"" + k.public_z85 + "\"\n", false, "outside a section"},
        {czmq_text(pub + "    x = \"1\" trailing\n"), false, "unexpected text"},
        {czmq_text(pub) + std::string(1, '\0'), false, "not a text"},
        {czmq_text(pub) + std::string(kMaxCertBytes, '#'), false, "larger"},
    };
    for (const auto &c : cases) {
        auto r = parse_cert(c.text, c.secret);
        INFO(c.why);
        REQUIRE_FALSE(r.ok());
        CHECK(contains(r.error().message, c.why));
    }
    // The line is named.
    auto r = parse_cert(czmq_text("\tpublic-key = \"" + k.public_z85 + "\"\n"), false);
    CHECK(contains(r.error().message, "line 8"));
}

TEST_CASE("a secret certificate others may read is refused and oversized files are not read") {
    TempDir d;
    CurveKeys k = fresh();
    spit(d.file("open.cert_secret"), secret_cert_text(k, "open"), 0640);
    auto r = read_cert_file(d.file("open.cert_secret"), true);
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error().message, "chmod 600"));
    REQUIRE(chmod(d.file("open.cert_secret").c_str(), 0600) == 0);
    CHECK(read_cert_file(d.file("open.cert_secret"), true).ok());
    // A link to a secret certificate is not followed.
    REQUIRE(symlink(d.file("open.cert_secret").c_str(), d.file("link.cert_secret").c_str()) == 0);
    CHECK_FALSE(read_cert_file(d.file("link.cert_secret"), true).ok());

    spit(d.file("big.cert"), public_cert_text(k, "big") + std::string(kMaxCertBytes, '#'));
    auto big = read_cert_file(d.file("big.cert"), false);
    REQUIRE_FALSE(big.ok());
    CHECK(contains(big.error().message, "bytes"));
    CHECK_FALSE(read_cert_file(d.file("absent.cert"), false).ok());
    CHECK_FALSE(read_cert_file(d.path, false).ok()); // a directory
}

TEST_CASE("the clients directory fails closed when empty, unreadable or broken") {
    TempDir d;
    auto empty = read_client_dir(d.path);
    REQUIRE_FALSE(empty.ok());
    CHECK(contains(empty.error().message, "no client certificate"));
    CHECK_FALSE(read_client_dir(d.file("absent")).ok());

    CurveKeys a = fresh(), b = fresh();
    REQUIRE(write_cert_pair(d.path, "a", a, false).ok());
    spit(d.file("b.cert"), public_cert_text(b, "b"));
    spit(d.file("README"), "not a certificate\n");
    auto keys = read_client_dir(d.path);
    REQUIRE_MESSAGE(keys.ok(), (keys.ok() ? "" : keys.error().message));
    // a.cert and b.cert; a.cert_secret and README are not client certificates.
    REQUIRE(keys->size() == 2);
    CHECK((*keys)[0].public_z85 == a.public_z85);
    CHECK((*keys)[1].public_z85 == b.public_z85);

    spit(d.file("c.cert"), "curve\n    public-key = \"short\"\n");
    auto broken = read_client_dir(d.path);
    REQUIRE_FALSE(broken.ok());
    CHECK(contains(broken.error().message, "c.cert"));
}

TEST_CASE("an allow-list others could write is refused: the directory, a certificate, a FIFO") {
    TempDir d;
    REQUIRE(write_cert_pair(d.path, "a", fresh(), false).ok());
    REQUIRE(read_client_dir(d.path).ok());

    // Anyone who may add a file to the directory could let their own key in.
    REQUIRE(chmod(d.path.c_str(), 0777) == 0);
    auto open_dir = read_client_dir(d.path);
    REQUIRE_FALSE(open_dir.ok());
    CHECK(contains(open_dir.error().message, "writable by group or others"));
    REQUIRE(chmod(d.path.c_str(), 0755) == 0);

    // ... or change a certificate in it.
    REQUIRE(chmod(d.file("a.cert").c_str(), 0666) == 0);
    auto open_cert = read_client_dir(d.path);
    REQUIRE_FALSE(open_cert.ok());
    CHECK(contains(open_cert.error().message, "a.cert"));
    REQUIRE(chmod(d.file("a.cert").c_str(), 0644) == 0);

    // A certificate owned by another user (giving a file away needs root, as CI runs).
    if (geteuid() == 0) {
        REQUIRE(chown(d.file("a.cert").c_str(), 65534, 65534) == 0);
        auto foreign = read_client_dir(d.path);
        REQUIRE_FALSE(foreign.ok());
        CHECK(contains(foreign.error().message, "owned by uid 65534"));
        REQUIRE(chown(d.file("a.cert").c_str(), 0, 0) == 0);
    }

    // A FIFO under a certificate's name is refused at once, not waited on.
    REQUIRE(mkfifo(d.file("b.cert").c_str(), 0644) == 0);
    auto fifo = read_client_dir(d.path);
    REQUIRE_FALSE(fifo.ok());
    CHECK(contains(fifo.error().message, "not a regular file"));
}

TEST_CASE("agent.id is systemd's app-specific id of the machine id and stays the same") {
    TempDir d;
    spit(d.file("machine-id"), "0123456789abcdef0123456789abcdef\n");
    auto id = policer::daemon::agent_id_from_machine_id(d.file("machine-id"));
    REQUIRE(id.ok());
    // systemd-id128 machine-id --app-specific=24066519f4f2fa8552b13c73f4f0b40c, for this id.
    CHECK(*id == "58213555-a93e-43a4-bc84-9073392f62c4");
    CHECK(*policer::daemon::agent_id_from_machine_id(d.file("machine-id")) == *id);
    spit(d.file("bad-id"), "not-a-machine-id\n");
    CHECK_FALSE(policer::daemon::agent_id_from_machine_id(d.file("bad-id")).ok());
    CHECK_FALSE(policer::daemon::agent_id_from_machine_id(d.file("absent")).ok());
}
