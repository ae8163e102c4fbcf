# Built-in plugin: Scala with sbt and scala-cli, and the repositories they resolve from.
{
  nix.packages = [ "sbt" "scala" "scala-cli" ];
  network.domains = [
    "repo1.maven.org"        # Maven Central
    "repo.maven.apache.org"  # Maven Central (alternate name)
    "repo.scala-sbt.org"     # sbt plugins and launcher
    "scala.jfrog.io"         # sbt's Ivy releases
    "oss.sonatype.org"       # snapshots and staging
    "s01.oss.sonatype.org"
    "repo.typesafe.com"
    "scala-lang.org"         # compiler downloads used by scala-cli
    "github.com"             # scala-cli and coursier release assets
    "objects.githubusercontent.com"
  ];
}
