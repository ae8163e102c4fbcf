# nixosModules.host: a NixOS machine ready to run nixbox.
#
#   services.nixbox = { enable = true; users = [ "alice" ]; };
#
# - the nixbox package (with its tools) on PATH;
# - nf_tables, tun, vhost-net and vhost-vsock loaded; the listed users in `kvm`;
# - NixOS's own firewall lets nixbox TAPs (nbx*) through input and forward: every base chain of
#   a hook must accept a packet, and nixbox's table `inet nixbox` (docs/network.md) is what
#   filters them — DHCP and DNS to the slot's gateway in, the mode's policy out;
# - with NixOS's nftables firewall, reloading it no longer flushes the whole ruleset (which would
#   delete nixbox's table under running VMs);
# - the runtime folder /run/nixbox and the slots' address pool, by `nixbox setup` at boot.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkEnableOption mkIf mkOption types;
  cfg = config.services.nixbox;
  nft = config.networking.nftables.enable;
in
{
  options.services.nixbox = {
    enable = mkEnableOption "nixbox: AI coding agents in throwaway microVMs";

    package = mkOption {
      type = types.package;
      description = "The nixbox package (the flake's packages.default).";
    };

    users = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "alice" ];
      description = "Users who run nixbox: added to the `kvm` group.";
    };

    pool = mkOption {
      type = types.nullOr (types.strMatching "[0-9]{1,3}\\.[0-9]{1,3}\\.0\\.0");
      default = null;
      example = "172.16.0.0";
      description = "The /16 the network slots take their addresses from (`nixbox setup --pool`); null keeps nixbox's default.";
    };
  };

  config = mkIf cfg.enable {
    environment.systemPackages = [ cfg.package ];

    boot.kernelModules = [ "nf_tables" "tun" "vhost_net" "vhost_vsock" ];

    users.users = lib.genAttrs cfg.users (_: { extraGroups = [ "kvm" ]; });

    networking.firewall = {
      trustedInterfaces = [ (if nft then "nbx*" else "nbx+") ];
      # only read when NixOS filters forwarded traffic (nftables backend)
      extraForwardRules = ''
        iifname "nbx*" accept
        oifname "nbx*" accept
      '';
    };
    networking.nftables.flushRuleset = mkIf nft (lib.mkDefault false);

    systemd.services.nixbox-setup = {
      description = "nixbox: runtime folder and address pool";
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = lib.escapeShellArgs ([ "${cfg.package}/bin/nixbox" "setup" ]
          ++ lib.optionals (cfg.pool != null) [ "--pool" cfg.pool ]);
      };
    };
  };
}
