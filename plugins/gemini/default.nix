# Built-in plugin: Gemini CLI, Google's coding agent (README.md).
{
  nix.packages = [ "gemini-cli" ];
  mounts = [
    # settings, login (oauth_creds.json) and history: a folder of this project's own on the host
    # (~/.local/state/nixbox/<id>/state/gemini), outside the project
    { state = "gemini"; target = "~/.gemini"; }
  ];
  # Hosts, not googleapis.com: that is a shared suffix (anyone's Cloud Storage bucket lives there).
  network.domains = [
    "generativelanguage.googleapis.com" # the Gemini API (GEMINI_API_KEY)
    "cloudcode-pa.googleapis.com"       # Code Assist, used with "Login with Google"
    "oauth2.googleapis.com"             # refreshing the Google login's token
    "www.googleapis.com"                # the login's user info
  ];
}
