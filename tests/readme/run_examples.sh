#!/bin/sh
# tests/readme/run_examples.sh - run every example of README.md.
#
# Usage: sh tests/readme/run_examples.sh BIN README WORKDIR
#
# README's examples are of two kinds, and both are run here:
#
#  - ```sh blocks: every line that runs ckpt2safetensors (first word, or
#    after a pipe; a line ending in '\' continues on the next), and every
#    mkdir, cp or touch that prepares for one, is run with sh in a fresh
#    copy of a sandbox that holds files under the names the examples use
#    (model.ckpt, sd.ckpt, models/, llama-7b/, ...; see setup_sandbox).
#    Each line gets its own copy (the lines of a block are alternatives),
#    except in a block that prepares files: its lines are a sequence and
#    share one.  It must exit 0, or with the status given for its
#    exact text in tests/readme/expect.tsv.  Lines of other programs (make,
#    cc, python, scripts/...) are left to the targets that test them
#    (make demo, test-install, test-example); they are not run here.
#  - ```text blocks whose first line is '$ COMMAND': COMMAND is run in the
#    sandbox and its standard output, then its standard error (as a
#    terminal shows them when the program prints its summary last), must
#    be the lines that follow, where a line '...' stands for any number
#    of lines.
#
# Programs the examples pipe into that are not ours get small stand-ins
# in the sandbox's PATH: 'aws s3 cp - DEST' stores standard input, 'curl'
# prints fixtures/sample.ckpt, 'parallel' runs its command for each
# argument in turn.  Absolute /data paths become the sandbox's data/.
#
# The script prints one line per example and ends with a count; it exits 1
# when any example failed.
set -u

BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
README=$2
mkdir -p "$3" && WORK=$(cd "$3" && pwd) || exit 1
TOP=$(pwd)
EXPECT=$TOP/tests/readme/expect.tsv

rm -rf "$WORK"
mkdir -p "$WORK/bin" || exit 1
ln -s "$BIN" "$WORK/bin/ckpt2safetensors"

# ---- stand-ins for the programs the examples pipe into ----------------------
cat > "$WORK/bin/aws" <<'EOF'
#!/bin/sh
# aws s3 cp - s3://BUCKET/KEY: keep standard input as ./s3/KEY
[ "$1 $2 $3" = "s3 cp -" ] || { echo "aws stand-in: only 's3 cp - DEST'" >&2; exit 2; }
mkdir -p s3 && cat > "s3/$(basename "$4")"
EOF
cat > "$WORK/bin/curl" <<EOF
#!/bin/sh
# curl URL: prints the sample checkpoint
cat "$TOP/fixtures/sample.ckpt"
EOF
cat > "$WORK/bin/parallel" <<'EOF'
#!/bin/sh
# parallel [-j N] CMD... ::: ARGS...: CMD with {} replaced by each ARG, one after another
[ "$1" = -j ] && shift 2
cmd=
while [ $# -gt 0 ] && [ "$1" != ::: ]; do cmd="$cmd $1"; shift; done
shift
rc=0
for a in "$@"; do
    sh -c "$(printf '%s\n' "$cmd" | sed "s/{}/$a/g")" || rc=1
done
exit $rc
EOF
chmod +x "$WORK/bin/aws" "$WORK/bin/curl" "$WORK/bin/parallel"

# ---- the sandbox: the files the examples name ---------------------------------
F=$TOP/fixtures
put() { mkdir -p "$(dirname "$2")" && cp "$F/$1" "$2"; }

setup_sandbox() {
    d=$1
    mkdir -p "$d" && cd "$d" || exit 1
    cp -R "$F" fixtures    # a copy: an example may write beside its input
    put sample.ckpt model.ckpt
    put sample.ckpt downloads/a.ckpt
    put good/lightning.ckpt downloads/b.ckpt
    put good/lightning.ckpt lightning.ckpt
    put modules/tensor_root.pt tensor.pt
    put modules/yolo_like.pt yolov5s.pt
    put modules/quantized.pt int8_model.pth
    put script/good/nested.pt model.pt
    put sd/sd_v1.ckpt sd.ckpt
    for m in models checkpoints data/ckpts; do
        put sample.ckpt $m/a.ckpt
        put good/views.pt $m/b.pt
        put good/tied.bin $m/sub/c.bin
    done
    put sample.ckpt runs/epoch1.ckpt
    put good/views.pt runs/epoch2.ckpt
    # TensorFlow: a TF1-named bundle, a SavedModel's variables, a TF2 one
    for s in 0 1 2; do
        put tf/good/multi.data-0000$s-of-00003 bert_model.ckpt.data-0000$s-of-00003
        put tf/good/multi.data-0000$s-of-00003 \
            saved_model/variables/variables.data-0000$s-of-00003
        put tf/good/multi.data-0000$s-of-00003 ckpt/model.ckpt.data-0000$s-of-00003
    done
    put tf/good/multi.index bert_model.ckpt.index
    put tf/good/multi.index saved_model/variables/variables.index
    put tf/good/multi.index ckpt/model.ckpt.index
    put tf/good/multi.index checkpoints/tf/model.ckpt.index
    for s in 0 1 2; do
        put tf/good/multi.data-0000$s-of-00003 checkpoints/tf/model.ckpt.data-0000$s-of-00003
    done
    setup_hf llama-7b
    setup_trainer trainer-out
    setup_hub
    mkdir -p log dist
    cd "$TOP" || exit 1
}

# A Hugging Face sharded model: two .bin shards and their index.
setup_hf() {
    put good/tied.bin "$1/pytorch_model-00001-of-00002.bin"
    put good/parameters.pt "$1/pytorch_model-00002-of-00002.bin"
    s1=pytorch_model-00001-of-00002.bin
    s2=pytorch_model-00002-of-00002.bin
    {
        printf '{"metadata": {"total_size": 1}, "weight_map": {\n'
        for t in hi lo decoder.out encoder.embed w w_rows w_view block_a.k block_b.k; do
            printf '  "%s": "%s",\n' "$t" "$s1"
        done
        printf '  "p": "%s", "frozen": "%s", "plain": "%s"}}\n' "$s2" "$s2" "$s2"
    } > "$1/pytorch_model.bin.index.json"
    printf '{"model_type": "llama"}\n' > "$1/config.json"
}

# A Hugging Face Trainer's output directory.
setup_trainer() {
    put good/tied.bin "$1/pytorch_model.bin"
    for f in training_args.bin optimizer.pt scheduler.pt rng_state_0.pth; do
        put sample.ckpt "$1/$f"
    done
    printf '{"model_type": "bert"}\n' > "$1/config.json"
    printf '{"version": "1.0"}\n' > "$1/tokenizer.json"
    printf '{"global_step": 10}\n' > "$1/trainer_state.json"
}

# The Hugging Face cache: snapshots whose files are links to blobs.
setup_hub() {
    h=.cache/huggingface/hub/models--org--name
    mkdir -p "$h/blobs" "$h/snapshots/abc123"
    cp "$F/good/tied.bin" "$h/blobs/0f1e2d"
    ln -s ../../blobs/0f1e2d "$h/snapshots/abc123/pytorch_model.bin"
}

setup_sandbox "$WORK/template"

# ---- extracting the examples --------------------------------------------------
# Each example becomes one record: KIND<TAB>LINE-NUMBER<TAB>TEXT, where TEXT
# has its newlines as \001 (a command with its continuation lines, or a
# '$' block: its command, then the expected lines).
extract() {
    awk '
    function flush() {
        if (kind != "" && text != "") printf "%s\t%d\t%s\n", kind, start, text
        text = ""
    }
    /^```/ {
        if (!inblock) {
            inblock = 1; lang = substr($0, 4); first = 1; kind = ""; text = ""; cont = 0
            next
        }
        flush(); inblock = 0; kind = ""; next
    }
    !inblock { next }
    (lang == "text" || lang == "") && first && /^\$ / { kind = "out"; start = NR; first = 0
        text = substr($0, 3); cmdcont = ($0 ~ /\\$/); next }
    (lang == "text" || lang == "") && kind == "out" {
        if (cmdcont) { text = text "\001" $0; cmdcont = ($0 ~ /\\$/); next }
        text = text "\002" $0; next
    }
    lang == "sh" {
        first = 0
        if (cont) { text = text "\001" $0; cont = ($0 ~ /\\$/); if (!cont) flush(); next }
        if ($0 ~ /^[ \t]*(#|$)/) next
        if ($0 ~ /^ckpt2safetensors / || $0 ~ /\| *ckpt2safetensors / || \
            $0 ~ /^parallel .*ckpt2safetensors / || $0 ~ /^(mkdir|cp|touch) /) {
            kind = ($0 ~ /^(mkdir|cp|touch) /) ? "setup" : "sh"
            start = NR; text = $0; cont = ($0 ~ /\\$/)
            if (!cont) flush()
        }
        next
    }
    { first = 0 }
    ' "$README"
}

expected_status() {
    [ -f "$EXPECT" ] || { echo 0; return; }
    awk -F '\t' -v t="$1" '$2 == t { print $1; found = 1; exit } END { if (!found) print 0 }' \
        "$EXPECT"
}

# ---- running them ----------------------------------------------------------------
pass=0
fail=0
block_of_last=
run_sh() {
    line=$1 cmd=$2
    want=$(expected_status "$(printf '%s' "$cmd" | tr '\001' '\n')")
    script=$(printf '%s' "$cmd" | tr '\001' '\n' | sed "s#/data/#$SANDBOX/data/#g")
    (cd "$SANDBOX" && HOME=$SANDBOX PATH=$WORK/bin:$PATH SLURM_ARRAY_TASK_ID=1 \
        JOB_COMPLETION_INDEX=0 sh -c "$script") > "$WORK/out" 2>&1
    rc=$?
    if [ "$rc" -eq "$want" ]; then
        pass=$((pass + 1))
        echo "ok   README:$line"
    else
        fail=$((fail + 1))
        echo "FAIL README:$line: exit $rc, expected $want: $(printf '%s' "$cmd" | tr '\001' ' ')"
        sed 's/^/     | /' "$WORK/out" | head -20
    fi
}

# Whether the lines of $2 match the pattern lines of $1 ('...' matches any run).
matches() {
    awk -v pat="$1" '
    BEGIN { np = split(pat, p, "\n") }
    { got[++ng] = $0 }
    function m(i, j,   k) {
        if (i > np) return j > ng
        if (p[i] == "...") { for (k = j; k <= ng + 1; k++) if (m(i + 1, k)) return 1; return 0 }
        return j <= ng && got[j] == p[i] && m(i + 1, j + 1)
    }
    END { exit m(1, 1) ? 0 : 1 }
    ' "$2"
}

run_out() {
    line=$1 rec=$2
    cmd=$(printf '%s' "$rec" | cut -d "$(printf '\002')" -f 1 | tr '\001' '\n')
    want=$(printf '%s' "$rec" | cut -s -d "$(printf '\002')" -f 2- | tr '\002' '\n')
    (cd "$SANDBOX" && PATH=$WORK/bin:$PATH sh -c "$cmd") > "$WORK/out" 2> "$WORK/err"
    cat "$WORK/err" >> "$WORK/out"
    if matches "$want" "$WORK/out"; then
        pass=$((pass + 1))
        echo "ok   README:$line"
    else
        fail=$((fail + 1))
        echo "FAIL README:$line: output of '$(printf '%s' "$cmd" | tr '\n' ' ')' differs:"
        printf '%s\n' "$want" > "$WORK/want"
        diff "$WORK/want" "$WORK/out" | sed 's/^/     | /' | head -30
    fi
}

extract > "$WORK/examples.tsv"
block_of() { # the line of the ``` that opens the block holding README line $1
    awk -v n="$1" 'NR <= n && /^```/ { b = NR } END { print b }' "$README"
}
# The blocks whose lines are a sequence: those that prepare files.
seq_blocks=" "
for l in $(awk -F '\t' '$1 == "setup" { print $2 }' "$WORK/examples.tsv"); do
    seq_blocks="$seq_blocks$(block_of "$l") "
done
fresh_sandbox() {
    SANDBOX=$WORK/sandbox
    rm -rf "$SANDBOX"
    cp -a "$WORK/template" "$SANDBOX"
}
prev_block=
while IFS="$(printf '\t')" read -r kind line text; do
    block=out$line
    [ "$kind" != out ] && block=$(block_of "$line")
    case $seq_blocks in
    *" $block "*) [ "$block" != "$prev_block" ] && fresh_sandbox ;;
    *) fresh_sandbox ;;
    esac
    prev_block=$block
    case $kind in
    sh | setup) run_sh "$line" "$text" ;;
    out) run_out "$line" "$text" ;;
    esac
done < "$WORK/examples.tsv"

echo "README examples: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
