# The runtime classpath of Apache Kafka 4.4.0 (broker and kafka-tools), as
# Maven resolves tests/kafka/pom.xml, cached in
# ~/.cache/mayfly/kafka-4.4.0/classpath-SHA.txt where SHA is the pom's
# sha256: editing the pom resolves again. The jars are downloaded into
# ~/.cache/mayfly/kafka-4.4.0/m2 (a Maven local repository of our own, so
# the whole cache is in one place and ~/.m2 is not touched); a cached
# classpath naming a jar that has gone is resolved again too.
#
#   kafka_classpath POM    prints the classpath (resolving at most once)
kafka_cache_dir="${MAYFLY_CACHE:-$HOME/.cache/mayfly}/kafka-4.4.0"

classpath_complete() {
  local jar
  [[ -s $1 ]] || return 1
  while IFS= read -r -d: jar; do
    [[ -f $jar ]] || return 1
  done < <(tr -d '\n' <"$1"; printf :)
}

kafka_classpath() {
  local pom=$1 sum file
  sum=$(sha256sum "$pom" | cut -c1-64)
  file="$kafka_cache_dir/classpath-$sum.txt"
  if ! classpath_complete "$file"; then
    mkdir -p "$kafka_cache_dir"
    echo "kafka: resolving Kafka 4.4.0's classpath with Maven (once per pom)" >&2
    # -o first: the repository usually has everything; then let Maven
    # download.
    local repo="$kafka_cache_dir/m2"
    mvn -q -B -o -f "$pom" -Dmaven.repo.local="$repo" \
      dependency:build-classpath -Dmdep.outputFile="$file.$$" >/dev/null 2>&1 ||
      mvn -q -B -f "$pom" -Dmaven.repo.local="$repo" \
        dependency:build-classpath -Dmdep.outputFile="$file.$$" >&2 || {
      rm -f "$file.$$"
      echo "kafka: mvn dependency:build-classpath failed" >&2
      return 1
    }
    mv "$file.$$" "$file"
    classpath_complete "$file" || {
      echo "kafka: $file names jars that are not there" >&2
      return 1
    }
  fi
  cat "$file"
}
