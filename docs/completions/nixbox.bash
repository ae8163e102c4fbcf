# bash completion for nixbox
_nixbox() {
    local cur prev cmds
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    cmds="init up down shell run mount unmount status config doctor setup build update logs reload net version help"
    if [ "$prev" = "-C" ]; then
        COMPREPLY=($(compgen -d -- "$cur")); return
    fi
    local i cmd=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            -C) i=$((i + 1)) ;;
            -*) ;;
            *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    case $cmd in
        "") COMPREPLY=($(compgen -W "$cmds -C --json --no-color -q --help --version" -- "$cur")) ;;
        help) COMPREPLY=($(compgen -W "$cmds" -- "$cur")) ;;
        init|mount|unmount) COMPREPLY=($(compgen -d -- "$cur")) ;;
        config) COMPREPLY=($(compgen -W "--json --show-secrets --help" -- "$cur")) ;;
        status) COMPREPLY=($(compgen -W "--json --help" -- "$cur")) ;;
        net) COMPREPLY=($(compgen -W "show --json --help" -- "$cur")) ;;
        logs) COMPREPLY=($(compgen -W "-f --help" -- "$cur")) ;;
        setup) COMPREPLY=($(compgen -W "--pool --help" -- "$cur")) ;;
        *) COMPREPLY=() ;;
    esac
}
complete -F _nixbox nixbox
