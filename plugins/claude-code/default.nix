# Built-in plugin: Claude Code, Anthropic's coding agent.
{
  nix.packages = [ "claude-code" ];
  # The agent's settings and login persist on the host.
  mounts = [ { source = "~/.claude"; target = "~/.claude"; } ];
  network.domains = [ "anthropic.com" "claude.ai" "claude.com" "sentry.io" ];
}
