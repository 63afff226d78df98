# Packaging.cmake - what `make install` puts where, and the Debian and RPM packages CPack
# builds from it (scripts/package.sh; docs/packaging.md). The binaries' own install() rules
# are in policer/ and cli/. Packages install under /usr, configuration under /etc/policer.

set(PL_PKG ${PROJECT_SOURCE_DIR}/packaging)

# Man pages, gzip'd as both formats expect (-n: no name or time stamp, so builds are equal).
set(pl_man_gz)
foreach(page policer.8 policerd.8 policer.rules.5)
    set(gz ${PROJECT_BINARY_DIR}/man/${page}.gz)
    add_custom_command(OUTPUT ${gz}
        COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
        COMMAND gzip -9 -n -c ${PL_PKG}/man/${page} > ${gz}
        DEPENDS ${PL_PKG}/man/${page} VERBATIM)
    list(APPEND pl_man_gz ${gz})
    string(REGEX MATCH "[0-9]$" section ${page})
    install(FILES ${gz} DESTINATION share/man/man${section})
endforeach()
add_custom_target(man_pages_gz ALL DEPENDS ${pl_man_gz})

install(FILES ${PL_PKG}/completion/policer.bash DESTINATION share/bash-completion/completions
        RENAME policer)
install(FILES ${PL_PKG}/policerd.service DESTINATION lib/systemd/system)
install(FILES ${PL_PKG}/policer.sysusers DESTINATION lib/sysusers.d RENAME policer.conf)
# Absolute: configuration lives in /etc whatever the prefix. Both files are conffiles.
install(FILES ${PL_PKG}/policer.conf DESTINATION /etc/policer PERMISSIONS OWNER_READ
        OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${PL_PKG}/rules.d/00-default.rules DESTINATION /etc/policer/rules.d)
install(FILES ${PL_PKG}/debian/copyright ${PROJECT_SOURCE_DIR}/docs/packaging.md
        DESTINATION share/doc/policer)
# The SIEM pipeline's rsyslog configuration (docs/siem.md): an example, not active until copied
# to /etc/rsyslog.d.
install(FILES ${PL_PKG}/rsyslog/policer-siem.conf DESTINATION share/doc/policer/examples)
# What the event stream carries and its JSON schema, for whoever writes a consumer.
install(FILES ${PROJECT_SOURCE_DIR}/docs/siem.md ${PROJECT_SOURCE_DIR}/docs/events.md
              ${PROJECT_SOURCE_DIR}/docs/events.schema.json
        DESTINATION share/doc/policer)

# Files only the DEB wants: its changelog.Debian.gz and lintian overrides. cpack names the
# format it is building in POLICER_PACKAGE_FORMAT (PackagingPerFormat.cmake); a plain
# `make install` installs neither.
set(pl_changelog_gz ${PROJECT_BINARY_DIR}/changelog.Debian.gz)
add_custom_command(OUTPUT ${pl_changelog_gz}
    COMMAND gzip -9 -n -c ${PL_PKG}/debian/changelog > ${pl_changelog_gz}
    DEPENDS ${PL_PKG}/debian/changelog VERBATIM)
add_custom_target(deb_changelog_gz ALL DEPENDS ${pl_changelog_gz})
install(CODE "
    if(\"\$ENV{POLICER_PACKAGE_FORMAT}\" STREQUAL \"DEB\")
        file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/share/doc/policer\" TYPE FILE
             FILES \"${pl_changelog_gz}\")
        file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/share/lintian/overrides\" TYPE FILE
             RENAME policer FILES \"${PL_PKG}/debian/lintian-overrides\")
    endif()")

# ---- CPack ------------------------------------------------------------------------------
set(CPACK_PACKAGE_NAME policer)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "the policer authors")
set(CPACK_PACKAGE_CONTACT "policer maintainers <maintainers@users.noreply.h-seed-2f6cf30b.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Host security agent: identity-aware flow attribution and policy")
set(pl_description "policer attributes every TCP and UDP flow on the host, in the kernel with eBPF,
to the user, group, process, cgroup and container behind it, classifies it with
nDPI (HTTP host, TLS SNI, DNS, SSH), and enforces rules written in those terms.
The default policy observes and alerts; enforcement is opt-in.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB RPM)
# Per-format settings read at packaging time (the component each format takes).
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_SOURCE_DIR}/cmake/PackagingPerFormat.cmake)

# DEB
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "${pl_description}")
# Libraries from dpkg-shlibdeps; adduser for the group in postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PL_PKG}/debian/postinst ${PL_PKG}/debian/prerm ${PL_PKG}/debian/postrm
    ${PL_PKG}/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# RPM
set(CPACK_RPM_PACKAGE_RELEASE 1)
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_LICENSE "GPL-2.0-or-later AND GPL-2.0-only")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
# rpmbuild fills the Packager tag from this macro.
set(CPACK_RPM_SPEC_MORE_DEFINE "%define packager ${CPACK_PACKAGE_CONTACT}")
set(CPACK_RPM_PACKAGE_DESCRIPTION "${pl_description}")
set(CPACK_RPM_PACKAGE_REQUIRES_PRE "shadow-utils")
set(CPACK_RPM_PRE_INSTALL_SCRIPT_FILE ${PL_PKG}/rpm/pre.sh)
set(CPACK_RPM_POST_INSTALL_SCRIPT_FILE ${PL_PKG}/rpm/post.sh)
set(CPACK_RPM_PRE_UNINSTALL_SCRIPT_FILE ${PL_PKG}/rpm/preun.sh)
set(CPACK_RPM_POST_UNINSTALL_SCRIPT_FILE ${PL_PKG}/rpm/postun.sh)
set(CPACK_RPM_CHANGELOG_FILE ${PL_PKG}/rpm/changelog)
set(CPACK_RPM_USER_FILELIST
    "%config(noreplace) /etc/policer/policer.conf"
    "%config(noreplace) /etc/policer/rules.d/00-default.rules")
# Directories the system owns: not listed as the package's.
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
    /usr/sbin /usr/share/man /usr/lib/systemd /usr/lib/systemd/system /usr/lib/sysusers.d
    /usr/share/bash-completion
    /usr/share/bash-completion/completions /usr/share/man/man5 /usr/share/man/man8)

include(CPack)
