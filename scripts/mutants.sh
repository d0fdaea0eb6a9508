#!/usr/bin/env bash
# Mutation testing of the rule files named in .cargo/mutants.toml: every mutant must fail a unit
# test, or be listed there as equivalent with the reason.
#
#   scripts/mutants.sh all      every mutant. On 0 missed, records in .cargo/mutants-verified a
#                               digest of each crate's files as they were tested.
#   scripts/mutants.sh changed  what CI runs: the rule files of every crate whose files (tests
#                               included) differ from the recorded digest; the others keep the
#                               recorded result.
#
# Mutants are applied in place, one at a time, and reverted; do not edit the tree meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
record=.cargo/mutants-verified

# Rule file groups: files, then the paths whose change re-checks them.
groups=(rules failover-check idle-reaper snapshotter storage-guard restore-drill)
declare -A files=(
    [rules]="rules/src/**"
    [failover-check]="functions/failover-check/src/policy.rs"
    [idle-reaper]="functions/idle-reaper/src/policy.rs"
    [snapshotter]="functions/snapshotter/src/policy/*.rs functions/snapshotter/src/handler/retention.rs"
    [storage-guard]="functions/storage-guard/src/policy/*.rs"
    [restore-drill]="functions/restore-drill/src/policy/*.rs"
)
declare -A watched=(
    [rules]="rules"
    [failover-check]="functions/failover-check"
    [idle-reaper]="functions/idle-reaper"
    # retention.rs is tested through shared's fakes
    [snapshotter]="functions/snapshotter shared/src/testing"
    [storage-guard]="functions/storage-guard"
    # What its policy tests read: the rules, the settings and payloads they take (the handler
    # is orchestration the policy tests never run).
    [restore-drill]="functions/restore-drill/src/policy functions/restore-drill/src/config.rs functions/restore-drill/src/request.rs functions/restore-drill/Cargo.toml"
)
always_watched=".cargo/mutants.toml"

MUTANTS_VERSION=27.1.0

# The external crates (name and version) in a group's own dependency tree, dev and build
# dependencies included: a crate another group alone depends on re-checks nothing here.
declare -A packages=([rules]=rds-responder-rules)
locked_externals() {
    cargo tree -q -p "${packages[$1]:-$1}" --locked --offline -e normal,build,dev \
        --prefix none 2>&1 | sed 's/ (\*)$//' | grep -v ' (/' | sort -u
}

# A digest of the files (tracked or new, as they are now) whose change re-checks a group.
digest() {
    local paths
    read -ra paths <<< "${watched[$1]} $always_watched"
    {
        git ls-files -z --cached --others --exclude-standard -- "${paths[@]}" \
            | sort -z | xargs -0 sha256sum
        locked_externals "$1" | sha256sum
    } | sha256sum | cut -c1-64
}
declare -A digests=()
for group in "${groups[@]}"; do digests[$group]=$(digest "$group"); done

selected=()
for group in "${groups[@]}"; do
    recorded=$(awk -v g="$group" '$1 == "digest" && $2 == g {print $3}' "$record" 2>/dev/null || true)
    if [ "$mode" = all ] || [ "$recorded" != "${digests[$group]}" ]; then
        selected+=("$group")
    fi
done
if [ "${#selected[@]}" -eq 0 ]; then
    echo "mutants: no rule crate changed since the last full run; it stands: $(awk '$1 == "result" {$1=""; print}' "$record")"
    exit 0
fi
echo "mutants: ${selected[*]}"
cargo mutants --version 2>/dev/null | grep -qx "cargo-mutants $MUTANTS_VERSION" \
    || cargo install --locked --quiet "cargo-mutants@$MUTANTS_VERSION"

# Excludes every file outside the given groups.
excludes_except() {
    local group
    for group in "${groups[@]}"; do
        case " $* " in *" $group "*) continue ;; esac
        local list
        read -ra list <<< "${files[$group]}" # no glob expansion: cargo-mutants reads the globs
        for f in "${list[@]}"; do printf -- '-e\n%s\n' "$f"; done
    done
}

status=0
ran=()
missed=0
caught=0
unviable=0
timeouts=0
run() {
    local name=$1
    shift
    local out=target/mutants/$name
    rm -rf "$out"
    mkdir -p "$out"
    local code=0
    # --baseline=skip: the unit tests have just passed (make test) or are run here first.
    cargo mutants --in-place --baseline=skip --timeout 60 --output "$out" "$@" || code=$?
    case $code in
        0 | 2 | 3) ;; # 2: missed mutants, 3: timeouts (a mutant that hangs is caught)
        *) echo "mutants: cargo-mutants failed ($code)" >&2; exit "$code" ;;
    esac
    [ "$code" -eq 2 ] && status=2
    local dir=$out/mutants.out
    ran+=("$dir/missed.txt")
    missed=$((missed + $(wc -l < "$dir/missed.txt")))
    caught=$((caught + $(wc -l < "$dir/caught.txt")))
    unviable=$((unviable + $(wc -l < "$dir/unviable.txt")))
    timeouts=$((timeouts + $(wc -l < "$dir/timeout.txt")))
}

# A baseline first: a failing suite would make every mutant look caught.
if [ "$mode" = all ]; then
    cargo test -q -p rds-responder-rules -p failover-check -p idle-reaper -p snapshotter -p storage-guard -p restore-drill -p e2e --lib
fi

case " ${selected[*]} " in
    *" rules "*)
        # The rules crate is tested alone: few dependencies, seconds per mutant.
        mapfile -t ex < <(excludes_except rules)
        run rules "${ex[@]}"
        ;;
esac
functions=()
for group in "${selected[@]}"; do [ "$group" != rules ] && functions+=("$group"); done
if [ "${#functions[@]}" -gt 0 ]; then
    mapfile -t ex < <(excludes_except "${functions[@]}")
    # With e2e in the package set, dependencies build with the workspace's one feature set, so
    # the build `make test` made is reused instead of rebuilding tokio and the SDK per function.
    run functions "${ex[@]}" --test-package failover-check,idle-reaper,snapshotter,storage-guard,restore-drill,e2e
fi

echo "mutants: ${selected[*]}: $caught caught, $unviable unviable, $timeouts timed out, $missed missed"

# How many of this run's missed mutants are in a group's files.
missed_in() {
    local list f n=0
    read -ra list <<< "${files[$1]}"
    for f in "${list[@]}"; do
        local prefix=${f%%\**} # the path before its first glob
        n=$((n + $(cat "${ran[@]}" | grep -c -- "^$prefix" || true)))
    done
    echo "$n"
}

# The record, per group: a group re-checked with none missed gets its new digest; any other
# keeps what was recorded (a group with missed mutants is re-checked again next time).
previous=$(cat "$record" 2>/dev/null || true)
{
    echo "# The last \`make mutants\` run of each group (or CI's scripts/mutants.sh changed, run here):"
    echo "# every mutant of its rule files caught or unviable when its files had this digest. CI"
    echo "# re-checks each group whose files differ from its digest."
    for group in "${groups[@]}"; do
        kept=$(awk -v g="$group" '$1 == "digest" && $2 == g {print $3}' <<< "$previous")
        case " ${selected[*]} " in
            *" $group "*)
                if [ "$(missed_in "$group")" -eq 0 ]; then
                    echo "digest $group ${digests[$group]}"
                elif [ -n "$kept" ]; then
                    echo "digest $group $kept"
                fi
                ;;
            *) [ -n "$kept" ] && echo "digest $group $kept" ;;
        esac
    done
    echo "result ${selected[*]}: $caught caught, $unviable unviable, $timeouts timed out, $missed missed"
} > "$record"
echo "mutants: recorded in $record (commit it with the files it names)"
if [ "$status" -ne 0 ]; then
    echo "mutants: MISSED (each is a rule no test pins; see target/mutants/*/mutants.out/missed.txt):" >&2
    cat "${ran[@]}" >&2 || true
    exit "$status"
fi
