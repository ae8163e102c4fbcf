# Built-in plugin: the AWS command-line interface.  `nixbox aws login [PROFILE]` logs in on the
# host and hands temporary credentials to the VM (commands/login, README.md).
{
  nix.packages = [ "awscli2" ];
  # Only the one endpoint every use needs whatever the region: global STS, which `aws sts
  # get-caller-identity` reaches.  Logins (SSO, awsapps.com) happen on the host, not in the VM.
  # Not "amazonaws.com": it holds s3.amazonaws.com and *.compute.amazonaws.com, so it would open
  # every S3 bucket and EC2 host to the VM (docs/decisions/0008).  Add your region's endpoints
  # yourself (README.md).
  network.domains = [ "sts.amazonaws.com" ];
}
