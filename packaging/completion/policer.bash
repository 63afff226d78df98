# bash completion for policer, the command line of the policer host security agent.
#
# Completes commands, `policer rule` subcommands and options, files where a command reads them,
# event topics, and the names of the rules a running policerd manages (asked with
# `policer rule list --json` over the control socket given with --socket, or $POLICER_SOCKET,
# when it answers within 2 s; nothing is completed otherwise).
#
# Installed as /usr/share/bash-completion/completions/policer, or: source policer.bash

# The managed item names, one per line: all of them, or only the "enabled" or "disabled" ones.
_policer_managed_names() {
    local want=$1 socket=() i line name="" enabled="" origin
    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
        [[ ${COMP_WORDS[i]} == --socket ]] && socket=(--socket "${COMP_WORDS[i + 1]}")
    done
    local run=("${COMP_WORDS[0]}" rule list --json "${socket[@]}")
    command -v timeout >/dev/null 2>&1 && run=(timeout 2 "${run[@]}")
    local out
    out=$("${run[@]}" 2>/dev/null) || return 0
    # `policer rule list --json` prints each entry's keys on lines of their own, in the order
    # name, kind, enabled, origin.
    while IFS= read -r line; do
        case $line in
        *'"name": "'*)
            name=${line#*\"name\": \"}
            name=${name%,}
            name=${name%\"}
            ;;
        *'"enabled": '*)
            enabled=${line#*\"enabled\": }
            enabled=${enabled%,}
            ;;
        *'"origin": "'*)
            origin=${line#*\"origin\": \"}
            origin=${origin%%\"*}
            [[ $origin == store ]] || continue
            case $want in
            enabled) [[ $enabled == true ]] || continue ;;
            disabled) [[ $enabled == false ]] || continue ;;
            esac
            printf '%s\n' "$name"
            ;;
        esac
    done <<<"$out"
}

# COMPREPLY += the words of $1 (one per line) that start with $cur, quoted for the shell.
_policer_add_words() {
    local IFS=$'\n' w
    for w in $1; do
        [[ $w == "$cur"* ]] && COMPREPLY+=("$(printf '%q' "$w")")
    done
}

_policer_add_files() {
    local IFS=$'\n'
    compopt -o filenames 2>/dev/null
    COMPREPLY+=($(compgen -f -- "$cur"))
}

_policer() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()

    # Options that take a value: complete the value.
    case $prev in
    --socket | -o | --output | --flow | --db)
        _policer_add_files
        return 0
        ;;
    --topic)
        _policer_add_words $'flow.start\nflow.l7\nflow.end\nflow.verdict\nalert\nagent\nrule.change'
        return 0
        ;;
    --dir)
        # policer keygen --dir: where the certificates go.
        local IFS=$'\n'
        compopt -o filenames 2>/dev/null
        COMPREPLY+=($(compgen -d -- "$cur"))
        return 0
        ;;
    --limit | --since)
        return 0
        ;;
    esac

    # The command (and for `rule`, the subcommand): the first words that are not options.
    local cmd="" sub="" i w
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
        --socket | -o | --output | --limit | --topic | --flow | --db | --since | --dir)
            ((i++))
            continue
            ;;
        -*) continue ;;
        esac
        if [[ -z $cmd ]]; then
            cmd=$w
        elif [[ $cmd == rule && -z $sub ]]; then
            sub=$w
        fi
    done

    local common=$'--socket\n--help'
    case $cmd in
    "")
        _policer_add_words $'rule\nstatus\nevents\nfields\ndissect\nflows\ntop\nkeygen\n--help\n--version'
        ;;
    keygen)
        # The NAME is new: only the options complete.
        [[ $cur == -* ]] && _policer_add_words $'--dir\n--force\n--help'
        ;;
    status)
        _policer_add_words $'--json\n--verbose\n'"$common"
        ;;
    events)
        _policer_add_words $'--follow\n--topic\n--json\n'"$common"
        ;;
    fields)
        _policer_add_words $'--json\n--markdown\n--help'
        ;;
    dissect | flows | top)
        if [[ $cur == -* ]]; then
            _policer_add_words $'--help\n--json'
        else
            _policer_add_files
        fi
        ;;
    rule)
        case $sub in
        "")
            _policer_add_words $'add\nrm\nenable\ndisable\nlist\nshow\nimport\nexport\nhistory\nrollback\ncheck\nexplain\ntest\n--help'
            ;;
        add | import)
            if [[ $cur == -* ]]; then
                _policer_add_words $'--json\n'"$common"$'\n'"$([[ $sub == add ]] && echo --replace || echo --yes)"
            else
                _policer_add_files
            fi
            ;;
        rm | show | history)
            if [[ $cur == -* && $sub == history ]]; then
                _policer_add_words $'--json\n--limit\n--verbose\n'"$common"
            elif [[ $cur == -* ]]; then
                _policer_add_words $'--json\n'"$common"
            else
                _policer_add_words "$(_policer_managed_names all)"
            fi
            ;;
        enable | disable)
            if [[ $cur == -* ]]; then
                _policer_add_words $'--json\n'"$common"
            else
                _policer_add_words "$(_policer_managed_names "$([[ $sub == enable ]] && echo disabled || echo enabled)")"
            fi
            ;;
        list | rollback)
            _policer_add_words $'--json\n'"$common"
            ;;
        export)
            _policer_add_words $'--output\n'"$common"
            ;;
        check | explain | test)
            if [[ $cur == -* ]]; then
                _policer_add_words $'--json\n--flow\n--all\n--since\n--help'
            else
                _policer_add_files
            fi
            ;;
        esac
        ;;
    esac
    return 0
}

complete -F _policer policer
