/*
 * tool_main.c - the ckpt2safetensors command: parse options, run the engine
 * (c2s.h), print the outcome, choose the exit code.
 *
 * Signals: SIGINT, SIGTERM and SIGHUP only set a flag that the engine checks
 * between blocks; it then removes its temporary file and returns, and we
 * re-raise the signal with its default action so that the caller (a shell
 * loop, make, a CI runner) sees the program die of it.  That flag is the one
 * piece of mutable global state, as a signal handler requires.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "c2s.h"
#include "tool_cfg.h"
#include "tool_list.h"
#include "tool_msgs.h"
#include "tool_opts.h"
#include "tool_scan.h"

static volatile sig_atomic_t g_signal;

static void on_signal(int signo) { g_signal = signo; }

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static void die_of_signal(void)
{
    int signo = g_signal;
    signal(signo, SIG_DFL);
    raise(signo);
    exit(128 + signo); /* not reached */
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls > lx && strcmp(s + ls - lx, suffix) == 0;
}

/* model.ckpt -> model.safetensors; other names get .safetensors appended.
 * When dir is not NULL the result goes into that directory. */
static char *output_name(const char *input, const char *dir)
{
    static const char *exts[] = {".ckpt", ".pt", ".pth", ".bin"};
    const char *base = input;
    if (dir != NULL) {
        const char *slash = strrchr(input, '/');
        base = slash ? slash + 1 : input;
    }
    size_t keep = strlen(base);
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (has_suffix(base, exts[i]))
            keep -= strlen(exts[i]);
    size_t cap = (dir ? strlen(dir) + 1 : 0) + keep + sizeof ".safetensors";
    char *out = malloc(cap);
    if (out != NULL)
        snprintf(out, cap, "%s%s%.*s.safetensors", dir ? dir : "",
                 dir && !has_suffix(dir, "/") ? "/" : "", (int)keep, base);
    return out;
}

static char *choose_output(const tool_config *cfg)
{
    struct stat st;
    if (cfg->output == NULL)
        return output_name(cfg->input, NULL);
    if (stat(cfg->output, &st) == 0 && S_ISDIR(st.st_mode))
        return output_name(cfg->input, cfg->output);
    return strdup(cfg->output);
}

static void report_open(const tool_config *cfg, const c2s_checkpoint *ck)
{
    const tmap *m = c2s_tensors(ck);
    for (size_t i = 0; i < m->nnotes; i++)
        tool_info(cfg, "%s: %s", cfg->input, m->notes[i]);
    tool_verbose(cfg, "%s: root %s, %zu tensors in %zu storages%s", cfg->input,
                 *m->root ? m->root : "(top level)", m->ntensors, m->nstorages,
                 c2s_big_endian(ck) ? ", big-endian storages" : "");
    for (size_t i = 0; i < m->ntensors; i++)
        if (!m->tensors[i].supported && cfg->skip_unsupported)
            tool_warn(cfg, cfg->input, "skipping tensor '%s' (%s)", m->tensors[i].name,
                      m->tensors[i].why);
}

static int convert(const tool_config *cfg, c2s_checkpoint *ck)
{
    char *out = choose_output(cfg);
    if (out == NULL) {
        tool_error(cfg->input, "out of memory");
        return C2S_ERR_INPUT;
    }
    c2s_write_options wo = {
        .force = cfg->force,
        .skip_unsupported = cfg->skip_unsupported,
        .cancel = &g_signal,
    };
    c2s_write_result res;
    c2s_error err;
    c2s_error_clear(&err);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    c2s_status st = c2s_write(ck, out, &wo, &res, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st != C2S_OK && g_signal) {
        free(out);
        c2s_close(ck);
        die_of_signal();
    }
    if (st != C2S_OK) {
        tool_error(cfg->input, "%s", err.msg);
    } else {
        char size[32];
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        tool_info(cfg, "%s -> %s: %zu tensors, %s in %.2f s", cfg->input, out, res.tensors,
                  tool_human_size(res.file_bytes, size, sizeof size), secs);
    }
    free(out);
    return st;
}

static c2s_open_options open_options(const tool_config *cfg)
{
    c2s_open_options oo = {.key = cfg->key, .max_pickle = cfg->max_pickle,
                           .limits = cfg->limits, .max_depth = cfg->max_depth};
    oo.policy.allow = cfg->allow;
    oo.policy.nallow = cfg->nallow;
    oo.policy.permissive = cfg->permissive;
    return oo;
}

/* --scan: judge every file; exit with the worst outcome (3 > 1 > 0). */
static int scan_all(const tool_config *cfg)
{
    c2s_open_options oo = open_options(cfg);
    int worst = C2S_OK;
    for (size_t i = 0; i < cfg->ninputs; i++) {
        c2s_report rep;
        c2s_status st = c2s_scan(cfg->inputs[i], &oo, &rep);
        tool_print_scan(stdout, cfg, cfg->inputs[i], &rep);
        c2s_report_free(&rep);
        if (st == C2S_ERR_REFUSED || (st == C2S_ERR_INPUT && worst == C2S_OK))
            worst = st;
        if (g_signal)
            die_of_signal();
    }
    return fflush(stdout) == 0 ? worst : C2S_ERR_INPUT;
}

static int run(const tool_config *cfg)
{
    c2s_open_options oo = open_options(cfg);
    c2s_checkpoint *ck = NULL;
    c2s_error err;
    c2s_error_clear(&err);
    c2s_status st = c2s_open(cfg->input, &oo, &ck, &err);
    if (g_signal) {
        c2s_close(ck);
        die_of_signal();
    }
    if (st != C2S_OK) {
        tool_error(cfg->input, "%s", err.msg);
        return st;
    }
    if (cfg->list) {
        tool_print_list(stdout, c2s_tensors(ck));
        c2s_close(ck);
        return fflush(stdout) == 0 ? C2S_OK : C2S_ERR_INPUT;
    }
    report_open(cfg, ck);
    st = convert(cfg, ck);
    c2s_close(ck);
    return st;
}

int main(int argc, char **argv)
{
    tool_config cfg;
    c2s_error err;
    c2s_error_clear(&err);
    if (tool_parse_args(argc, argv, &cfg, &err) != C2S_OK) {
        tool_error(NULL, "%s", err.msg);
        tool_config_free(&cfg);
        return C2S_ERR_USAGE;
    }
    if (cfg.help || cfg.version) {
        if (cfg.help)
            tool_print_help(stdout);
        else
            tool_print_version(stdout);
        tool_config_free(&cfg);
        return 0;
    }
    install_signals();
    int rc = cfg.scan ? scan_all(&cfg) : run(&cfg);
    tool_config_free(&cfg);
    return rc;
}
