# Evaluate a project's .nixbox/config.nix and every plugin it names, for nixbox's config loader.
# nixbox runs it in Nix's restricted mode (only the configuration folder, nixbox's plugins and
# these files are readable: docs/decisions/0006-approve-the-configuration.md), with the
# expression on stdin:
#
#   nix-instantiate --eval --strict --json --store dummy:// --option restrict-eval true \
#     -I CONFIGDIR -I PLUGINSDIR -I NIXDIR - <<< \
#     'import NIXDIR/eval-config.nix { configFile = "..."; pluginsDir = "..."; hostEnv = ...; }'
#
# Restricted mode makes builtins.getEnv return "", so the config and its plugins are imported
# with a getEnv that reads hostEnv (nixbox's environment, handed over in that expression, never
# in an argument or a file), and an import that passes the same on to the files they import.
#
# Returns plain data; nixbox merges and validates it in C (config/config_merge.c):
#   { userType = "set"; user = { ... };
#     plugins = [ { index; spec; kind = "builtin"|"path"; file; error; valueType; value; } ]; }
# Paths become absolute path strings (nothing is copied into the Nix store).  Problems nixbox can
# explain better than Nix (an unknown built-in plugin, a missing plugin file, a value of the wrong
# type) are returned as data; genuine Nix errors (syntax, undefined variables) abort the evaluation
# and name the file themselves.
{ configFile, pluginsDir, hostEnv ? { } }:
let
  getEnv = name: hostEnv.${name} or "";
  scope = {
    builtins = builtins // { inherit getEnv; };
    import = path: builtins.scopedImport scope path;
  };
  import = scope.import;

  inherit (builtins) isAttrs isList isPath isString isFunction typeOf mapAttrs pathExists match
    genList length elemAt substring stringLength;

  # Plain data: paths to absolute strings; functions are not data.
  toData = file: where: v:
    if isPath v then toString v
    else if isAttrs v then mapAttrs (k: x: toData file "${where}${if where == "" then "" else "."}${k}" x) v
    else if isList v then genList (i: toData file "${where}[${toString i}]" (elemAt v i)) (length v)
    else if isFunction v then
      throw "nixbox: ${file}: ${if where == "" then "the file" else where}: expected data, got a function"
    else v;

  configDir = dirOf configFile;
  userRaw = import (/. + configFile);
  user = if isAttrs userRaw then toData configFile "" userRaw else null;
  specs = if isAttrs userRaw && isList (userRaw.plugins or null) then userRaw.plugins else [ ];

  isName = s: match "[a-z0-9][a-z0-9-]{0,63}" s != null;
  hasSlash = s: match ".*/.*" s != null;

  # A plugin given by path (Nix path or string with a slash): a .nix file or a folder holding
  # default.nix.  Relative strings are taken from the config file's folder, as Nix paths are.
  pathPlugin = index: spec: p:
    let
      s = toString p;
      abs = if substring 0 1 s == "/" then s else "${configDir}/${s}";
      file = if pathExists "${abs}/default.nix" then "${abs}/default.nix" else abs;
    in
    if !(pathExists abs) then { inherit index spec; kind = "path"; file = abs; error = "missing"; }
    else load index spec "path" file;

  load = index: spec: kind: file:
    let raw = import (/. + file); in
    {
      inherit index spec kind file;
      error = null;
      valueType = typeOf raw;
      value = if isAttrs raw then toData file "" raw else null;
    };

  plugin = index: spec:
    if isPath spec then pathPlugin index (toString spec) spec
    else if isString spec && hasSlash spec then pathPlugin index spec spec
    else if isString spec then
      (if isName spec && pathExists "${pluginsDir}/${spec}/default.nix"
       then load index spec "builtin" "${pluginsDir}/${spec}/default.nix"
       else { inherit index spec; kind = "builtin"; file = null; error = "unknown"; })
    else { inherit index; spec = null; kind = null; file = null; error = "type"; valueType = typeOf spec; };
in
{
  userType = typeOf userRaw;
  inherit user;
  plugins = genList (i: plugin i (elemAt specs i)) (length specs);
}
