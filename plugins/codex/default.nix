# Built-in plugin: Codex CLI, OpenAI's coding agent (README.md).
{
  nix.packages = [ "codex" ];
  mounts = [
    # CODEX_HOME: config.toml, the login (auth.json) and sessions: a folder of this project's
    # own on the host (~/.local/state/nixbox/<id>/state/codex), outside the project
    { state = "codex"; target = "~/.codex"; }
  ];
  network.domains = [
    "api.openai.com"  # the OpenAI API (OPENAI_API_KEY)
    "chatgpt.com"     # Codex with a ChatGPT plan (chatgpt.com/backend-api/codex)
    "auth.openai.com" # refreshing the ChatGPT login's token
  ];
}
