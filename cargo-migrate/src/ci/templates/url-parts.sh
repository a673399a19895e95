# The URL's host and password: GitHub masks the secret as a whole, but
# cargo-migrate shows URLs with the host (the password never).
url="$(printenv {{url_variable}} || true)"
parts=()
case "$url" in
  *://*)
    authority="${url#*://}"
    authority="${authority%%[/?#]*}"
    if [[ "$authority" == *@* ]]; then
      userinfo="${authority%@*}"
      if [[ "$userinfo" == *:* ]]; then parts+=("${userinfo#*:}"); fi
    fi
    hostport="${authority##*@}"
    if [[ "$hostport" == \[* ]]; then
      host="${hostport%%]*}"
      parts+=("$host]" "${host#[}")
    else
      parts+=("${hostport%:*}")
    fi
    ;;
esac
# libpq's key=value form and query parameters: host=..., password='...'.
for key in host hostaddr password; do
  quoted="(^|[?&[:space:]])$key='([^']*)'"
  plain="(^|[?&[:space:]])$key=([^'&[:space:]]+)"
  if [[ "$url" =~ $quoted ]] || [[ "$url" =~ $plain ]]; then parts+=("${BASH_REMATCH[2]}"); fi
done
for part in "${parts[@]}"; do
  if [[ "$part" == *%* ]]; then parts+=("$(printf '%b' "${part//%/\\x}")"); fi
done
