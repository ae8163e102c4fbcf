# An example path plugin (docs/plugins.md): copy this folder to .nixbox/greeter, add ./greeter to
# `plugins` in .nixbox/config.nix and run `nixbox allow`.  Every field is optional.
{
  # packages from nixpkgs in the VM (the Nix guest; an image of your own ignores them)
  nix.packages = [ "cowsay" ];

  # the hosts it talks to, allowed in network.mode = "filtered": hosts, not whole zones
  network.domains = [ "api.example.com" ];

  mounts = [
    # its state: a folder of this project's own on the host, outside the project
    # (~/.local/state/nixbox/<id>/state/greeter), kept across `down` and `up`
    { state = "greeter"; target = "~/.greeter"; }
    # a RAM folder in the VM, mounted after the share it sits in
    { tmpfs = true; target = "~/.greeter/cache"; }
  ];

  # runs in the VM after boot, in a login shell with your env (a path relative to this file)
  scripts = [ ./setup.sh ];

  # runs on the host, as you, after `up`; plugin hooks run before your own
  hooks.post-up = [ "echo greeter: the VM is up" ];

  # not allowed in a plugin: env (secrets come from your config.nix only) and plugins
}
