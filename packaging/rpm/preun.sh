# policer %preun: on erase ($1 = 0, not an upgrade), stop and disable policerd and take its
# pinned enforcement out of the kernel: nothing could manage it once the package is gone.
if [ "$1" -eq 0 ]; then
    if [ -d /run/systemd/system ]; then
        systemctl --no-reload disable --now policerd.service >/dev/null 2>&1 || :
    fi
    if [ -f /etc/policer/policer.conf ]; then
        /usr/sbin/policerd --config /etc/policer/policer.conf --remove-enforcement \
            --log-level warn || :
    else
        /usr/sbin/policerd --remove-enforcement --log-level warn || :
    fi
fi
exit 0
