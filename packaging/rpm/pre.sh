# policer %pre: the group whose members may use the CLI (control socket, store).
getent group policer >/dev/null || groupadd -r policer
exit 0
