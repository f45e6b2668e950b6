# bash completion for ckpt2safetensors                      -*- shell-script -*-
#
# Installed by `make install` as
#   $(PREFIX)/share/bash-completion/completions/ckpt2safetensors
# To try it without installing:  source completion/ckpt2safetensors.bash
#
# Completes the options (the same list as --help), the values of --dtype,
# --direct-io and --quantized, usual sizes for --max-shard-size,
# directories after -r and -o, and otherwise checkpoint files (.ckpt .pt
# .pth .bin, TensorFlow .index), .safetensors files (for --list) and
# directories.

_ckpt2safetensors()
{
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    local IFS=$'\n'
    COMPREPLY=()

    local opts="-o --output -r --recursive --follow-symlinks --include-file --exclude-file
--copy-other -f --force -j --jobs --dry-run --rm
--direct-io --shard --key --name --quantized --list --skip-unsupported --tf-names --dtype
--include --exclude --rename --metadata
--max-shard-size
--training-metadata --verify --scan --allow-global --permissive --max-pickle-size
--max-objects --max-memo --max-stack --max-string --max-container --max-depth
--json -q --quiet -v --verbose -h --help -V --version"

    # --opt=value
    if [[ $cur == --dtype=* ]]; then
        COMPREPLY=($(compgen -W $'f16\nbf16\nf32' -- "${cur#--dtype=}"))
        return 0
    fi
    if [[ $cur == --quantized=* ]]; then
        COMPREPLY=($(compgen -W $'dequantize\nraw' -- "${cur#--quantized=}"))
        return 0
    fi
    if [[ $cur == --max-shard-size=* ]]; then
        COMPREPLY=($(compgen -W $'10GB\n5GB\n2GB\n1GB\n500MB' -- "${cur#--max-shard-size=}"))
        return 0
    fi
    if [[ $cur == --direct-io=* ]]; then
        COMPREPLY=($(compgen -W $'auto\nalways\nnever' -- "${cur#--direct-io=}"))
        return 0
    fi

    case $prev in
        --dtype)
            COMPREPLY=($(compgen -W $'f16\nbf16\nf32' -- "$cur"))
            return 0 ;;
        --direct-io)
            COMPREPLY=($(compgen -W $'auto\nalways\nnever' -- "$cur"))
            return 0 ;;
        --max-shard-size) # the usual sizes; any other is typed
            COMPREPLY=($(compgen -W $'10GB\n5GB\n2GB\n1GB\n500MB' -- "$cur"))
            return 0 ;;
        --quantized)
            COMPREPLY=($(compgen -W $'dequantize\nraw' -- "$cur"))
            return 0 ;;
        -r | --recursive)
            COMPREPLY=($(compgen -d -- "$cur"))
            return 0 ;;
        -o | --output)
            COMPREPLY=($(compgen -f -- "$cur"))
            return 0 ;;
        -j | --jobs | --shard | --key | --name | --include | --exclude | --rename | --metadata | \
        --include-file | --exclude-file | \
        --allow-global | --max-pickle-size | --max-objects | --max-memo | \
        --max-stack | --max-string | --max-container | --max-depth)
            return 0 ;; # a value only the user knows
    esac

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
