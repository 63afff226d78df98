# policer %post: the unit is known to systemd; the distribution's presets decide whether it
# is enabled (RPM convention: a package does not start services by itself).
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -eq 1 ]; then
        systemctl --no-reload preset policerd.service >/dev/null 2>&1 || :
    fi
fi
exit 0
