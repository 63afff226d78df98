# policer %postun: an upgrade restarts a running policerd on the new binary (it adopts the
# pinned enforcement). An erase keeps the store in /var/lib/policer (rule history, flows,
# alerts): RPM has no purge, and an audit trail is not deleted by uninstalling.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -ge 1 ] && [ -d /run/systemd/system ]; then
    systemctl try-restart policerd.service >/dev/null 2>&1 || :
fi
exit 0
