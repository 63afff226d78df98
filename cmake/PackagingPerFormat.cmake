# PackagingPerFormat.cmake - read by cpack once per format (CPACK_PROJECT_CONFIG_FILE), in the
# process that then runs the install rules: tells them which format they install for, so that
# the DEB alone gets its changelog.Debian.gz and lintian overrides (cmake/Packaging.cmake).
set(ENV{POLICER_PACKAGE_FORMAT} "${CPACK_GENERATOR}")
