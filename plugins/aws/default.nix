# Built-in plugin: the AWS command-line interface.
{
  nix.packages = [ "awscli2" ];
  network.domains = [ "amazonaws.com" "aws.amazon.com" "awsapps.com" ];
}
