set +e
# Inputs from a caller may be anything: keep them to the characters they may have.
MIGRATE_ENVIRONMENT="${MIGRATE_ENVIRONMENT//[^A-Za-z0-9_.-]/_}"
MIGRATE_ACTION="${MIGRATE_ACTION//[^a-z-]/_}"
{{url_parts}}
redact() {
  local text part
  text="$(cat)"
  for part in "${parts[@]}"; do
    text="${text//"$part"/***}"
  done
  printf '%s\n' "$text"
}
now="$({{migrate}} current 2>&1)"
reached=$?
after="$(printf '%s\n' "$now" | awk 'NF { sub(/,$/, "", $1); print $1 }' | xargs)"
stuck="$({{migrate}} current -v 2>/dev/null | awk '$2 == "failed" || $2 == "running" || $2 == "reverting" { print $1 }' | xargs)"
log="$RUNNER_TEMP/migrate/run.log"
{
  echo "### ❌ $MIGRATE_ACTION on $MIGRATE_ENVIRONMENT failed: the database's state and what to do"
  echo
  if [ -s "$log" ] && grep -q '^error:' "$log"; then
    echo "The run stopped with:"
    echo
    echo '```text'
    sed -n '/^error:/,$p' "$log"
    echo '```'
    echo
  fi
  if [ "$reached" -ne 0 ]; then
    echo "The database could not be asked where it is:"
    echo
    echo '```text'
    printf '%s\n' "$now"
    echo '```'
  else
    echo "The database is at \`${after:-base}\`."
    echo
    for rev in $stuck; do
      echo "Revision \`$rev\` stopped part-way outside a transaction: finish or undo its statements by hand, then record which, with the database URL of $MIGRATE_ENVIRONMENT set:"
      echo
      echo '```sh'
      echo "{{migrate}} resolve $rev --applied       # its statements are in effect"
      echo "{{migrate}} resolve $rev --rolled-back   # they are not"
      echo '```'
      echo
    done
    if [ "$BEFORE_KNOWN" != success ]; then
      echo "The run failed before it changed anything."
    elif [ "$after" = "$BEFORE" ]; then
      echo "It is where it was before this run: nothing of this run is in effect."
      if [ "$MIGRATE_ACTION" = upgrade ] && [ -n "$after" ] && [ -z "$stuck" ]; then
        echo "To go one revision further back (with the database URL of $MIGRATE_ENVIRONMENT set):"
        echo
        echo '```sh'
        echo "{{migrate}} downgrade -1"
        echo '```'
      fi
    elif [ "$MIGRATE_ACTION" = upgrade ]; then
      echo "Before this run it was at \`${BEFORE:-base}\`. To roll back what this run applied, run this workflow with action \`downgrade\` and target \`${BEFORE:-base}\`, or with the database URL of $MIGRATE_ENVIRONMENT set:"
      echo
      echo '```sh'
      for rev in ${BEFORE:-base}; do
        echo "{{migrate}} downgrade $rev"
      done
      echo '```'
    elif [ "$MIGRATE_ACTION" = downgrade ]; then
      echo "Before this run it was at \`${BEFORE:-base}\`. To apply again what this run reverted, run this workflow with action \`upgrade\` and target \`${BEFORE:-head}\`, or with the database URL of $MIGRATE_ENVIRONMENT set:"
      echo
      echo '```sh'
      for rev in ${BEFORE:-head}; do
        echo "{{migrate}} upgrade $rev"
      done
      echo '```'
    fi
  fi
} | redact | tee -a "$GITHUB_STEP_SUMMARY"
