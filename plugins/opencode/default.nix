# Built-in plugin: opencode, an open-source coding agent for many model providers (README.md).
{
  nix.packages = [ "opencode" ];
  mounts = [
    # logins (auth.json), sessions and snapshots: a folder of this project's own on the host
    # (~/.local/state/nixbox/<id>/state/opencode), outside the project
    { state = "opencode"; target = "~/.local/share/opencode"; }
  ];
  # opencode's own hosts only; add your model provider's API host (README.md).
  network.domains = [
    "models.dev"  # the catalogue of providers and models opencode refreshes
    "opencode.ai" # opencode's own gateway (OpenCode Zen) and shared sessions
  ];
}
