# bash completion for ckpt2safetensors                      -*- shell-script -*-
#
# Installed by `make install` as
#   $(PREFIX)/share/bash-completion/completions/ckpt2safetensors
# To try it without installing:  source completion/ckpt2safetensors.bash
#
# Completes the options (the same list as --help), the values of --dtype,
# --direct-io, --quantized and --color, usual sizes for --max-shard-size,
# directories after -r, files after -o, and otherwise checkpoint files (.ckpt .pt .pth .bin, TensorFlow
# .index), .safetensors files (for --list) and directories.  A value is
# completed after the option as its own word or after '=' (--dtype=b).

# COMPREPLY for the value of option $1 of which $2 is typed; status 1 when
# $1 takes no value.
_ckpt2safetensors_value()
{
    local IFS=$'\n'
    case $1 in
        --dtype)
            COMPREPLY=($(compgen -W $'f16\nbf16\nf32' -- "$2")) ;;
        --direct-io | --color)
            COMPREPLY=($(compgen -W $'auto\nalways\nnever' -- "$2")) ;;
        --quantized)
            COMPREPLY=($(compgen -W $'dequantize\nraw' -- "$2")) ;;
        --max-shard-size) # the usual sizes; any other is typed
            COMPREPLY=($(compgen -W $'10GB\n5GB\n2GB\n1GB\n500MB' -- "$2")) ;;
        -r | --recursive)
            COMPREPLY=($(compgen -d -- "$2")) ;;
        -o | --output)
            COMPREPLY=($(compgen -f -- "$2")) ;;
        -j | --jobs | --shard | --key | --name | --include | --exclude | --rename | --metadata | \
        --include-file | --exclude-file | \
        --allow-global | --max-pickle-size | --max-objects | --max-memo | \
        --max-stack | --max-string | --max-container | --max-depth)
            COMPREPLY=() ;; # a value only the user knows
        *)
            return 1 ;;
    esac
    return 0
}

_ckpt2safetensors()
{
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    local IFS=$'\n'
    COMPREPLY=()

    local opts="-o --output -r --recursive --follow-symlinks --include-file --exclude-file
--copy-other -f --force -j --jobs --dry-run --rm --color
--direct-io --shard --key --name --quantized --list --skip-unsupported --tf-names --dtype
--include --exclude --rename --metadata
--max-shard-size
--training-metadata --verify --scan --allow-global --permissive --max-pickle-size
--max-objects --max-memo --max-stack --max-string --max-container --max-depth
--json -q --quiet -v --verbose -h --help -V --version"

    # The option whose value is being completed, and what of it is typed.
    # bash splits "--dtype=b" at '=' (in COMP_WORDBREAKS by default) into
    # the words "--dtype" "=" "b", or "--dtype" "=" while nothing follows
    # the '='; without '=' in COMP_WORDBREAKS it stays one word, and the
    # replies must then carry the "--dtype=" themselves.
    local opt= val= prefix=
    if [[ $cur == --*=* ]]; then
        opt=${cur%%=*} val=${cur#*=} prefix=$opt=
    elif [[ $cur == = && $prev == --* ]]; then
        opt=$prev
    elif [[ $prev == = ]] && ((COMP_CWORD > 1)) && [[ ${COMP_WORDS[COMP_CWORD - 2]} == --* ]]; then
        opt=${COMP_WORDS[COMP_CWORD - 2]} val=$cur
    fi
    if [[ -n $opt ]]; then
        _ckpt2safetensors_value "$opt" "$val"
        if [[ -n $prefix ]]; then
            COMPREPLY=("${COMPREPLY[@]/#/$prefix}")
        fi
        return 0 # an option that takes no value: nothing to offer after its '='
    fi
    if _ckpt2safetensors_value "$prev" "$cur"; then
        return 0
    fi

    if [[ $cur == -* ]]; then
        IFS=$' \n'
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return 0
    fi

    local ext
    COMPREPLY=($(compgen -d -- "$cur"))
    for ext in ckpt pt pth bin index safetensors; do
        COMPREPLY+=($(compgen -f -X "!*.$ext" -- "$cur"))
    done
    return 0
}

complete -o filenames -o bashdefault -F _ckpt2safetensors ckpt2safetensors
