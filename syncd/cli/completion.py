"""`syncd completion bash|zsh|fish`: shell completion scripts for the commands and options."""

from __future__ import annotations

COMMANDS = (
    "sync",
    "run",
    "check",
    "status",
    "retry",
    "resolve",
    "ls",
    "emulator",
    "demo",
    "completion",
)
COMMON = ("-c", "--config", "--log-format", "--log-level", "--help")
OPTIONS = {
    "sync": ("--dry-run", "--check-remote", "--max-delete"),
    "run": ("--dry-run",),
    "check": ("--offline",),
    "status": ("--json",),
    "retry": ("--all",),
    "resolve": ("--keep-local", "--keep-remote", "--keep-both"),
    "ls": ("--json",),
    "completion": ("bash", "zsh", "fish"),
}

_BASH = """# bash completion for syncd
_syncd() {{
    local cur prev cmd i
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    case "$prev" in
        -c|--config) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
        --log-format) COMPREPLY=( $(compgen -W "auto json console" -- "$cur") ); return ;;
        --log-level) COMPREPLY=( $(compgen -W "debug info warning error" -- "$cur") ); return ;;
    esac
    cmd=""
    for ((i=1; i < COMP_CWORD; i++)); do
        case " {commands} " in *" ${{COMP_WORDS[i]}} "*) cmd="${{COMP_WORDS[i]}}"; break ;; esac
    done
    case "$cmd" in
{cases}
        "") COMPREPLY=( $(compgen -W "{commands} {common} --version" -- "$cur") ) ;;
    esac
}}
complete -F _syncd syncd
"""


def _bash() -> str:
    cases = "\n".join(
        f'        {cmd}) COMPREPLY=( $(compgen -W "{" ".join((*OPTIONS.get(cmd, ()), *COMMON))}"'
        f' -- "$cur") ) ;;'
        for cmd in COMMANDS
    )
    return _BASH.format(commands=" ".join(COMMANDS), common=" ".join(COMMON), cases=cases)


def _zsh() -> str:
    return (
        "#compdef syncd\n# zsh completion for syncd (uses the bash one)\n"
        "autoload -U +X bashcompinit && bashcompinit\n" + _bash()
    )


def _fish() -> str:
    out = [
        "# fish completion for syncd",
        f"complete -c syncd -f -n __fish_use_subcommand -a '{' '.join(COMMANDS)}'",
        "complete -c syncd -s c -l config -r -F -d 'config file'",
        "complete -c syncd -l log-format -x -a 'auto json console'",
        "complete -c syncd -l log-level -x -a 'debug info warning error'",
    ]
    for cmd, opts in OPTIONS.items():
        for opt in opts:
            if opt.startswith("--"):
                out.append(f"complete -c syncd -n '__fish_seen_subcommand_from {cmd}' -l {opt[2:]}")
            else:
                out.append(f"complete -c syncd -f -n '__fish_seen_subcommand_from {cmd}' -a {opt}")
    return "\n".join(out) + "\n"


def script(shell: str) -> str:
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell]()
