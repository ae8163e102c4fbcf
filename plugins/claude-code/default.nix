# Built-in plugin: Claude Code, Anthropic's coding agent (README.md).
{
  nix.packages = [ "claude-code" ];
  mounts = [
    # Claude's settings, login and history: a folder of this project's own on the host, outside
    # the project (~/.local/state/nixbox/<id>/state/claude-code), never the host's ~/.claude.
    # `nixbox claude-code sync-config` copies your login and settings into it.
    { state = "claude-code"; target = "~/.claude"; }
    # Claude creates files here with O_TMPFILE, which virtiofs lacks: a RAM folder in the VM,
    # mounted after the share it sits in.
    { tmpfs = true; target = "~/.claude/todos"; }
  ];
  network.domains = [ "anthropic.com" "claude.ai" "claude.com" "sentry.io" ];
}
