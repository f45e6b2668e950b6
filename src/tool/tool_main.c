/*
 * tool_main.c - the ckpt2safetensors command: parse options, then run one
 * of the three modes: --scan (tool_scan.c), --list (tool_list.c), or a
 * conversion run (tool_run.c), and choose the exit code.
 *
 * Signals: SIGINT, SIGTERM, SIGHUP, and SIGPIPE (a reader of -o - or of
 * the --json lines went away) only set a flag that the engine checks
 * between blocks and the run checks between files; the engine then drops
 * its unfinished output (an unnamed O_TMPFILE file needs nothing removed;
 * the named fallback's hidden file is unlinked) and returns, and we
 * re-raise the signal with its default action so that the caller (a shell
 * loop, make, a CI runner) sees the program die of it.  That flag is the
 * one piece of mutable global state, as a signal handler requires.
 * SIGXFSZ is ignored: a write past the file size limit (ulimit -f) then
 * fails with EFBIG, which the engine reports as an error naming the limit,
 * instead of killing the program with its output half-written.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "c2s.h"
#include "tool_batch.h"
#include "tool_cfg.h"
#include "tool_convert.h"
#include "tool_list.h"
#include "tool_msgs.h"
#include "tool_opts.h"
#include "tool_run.h"
#include "tool_scan.h"
#include "tool_select.h"
#include "tool_spool.h"

static volatile sig_atomic_t g_signal;

/* An atomic store: worker threads read the flag (tool_cancelled). */
static void on_signal(int signo)
{
    __atomic_store_n(&g_signal, signo, __ATOMIC_RELAXED);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN);
}

static void die_of_signal(void)
{
    int signo = g_signal;
    signal(signo, SIG_DFL);
    raise(signo);
    exit(128 + signo); /* not reached */
}

/* --scan: judge every file; exit with the worst outcome (3 > 1 > 0). */
static int scan_all(const tool_config *cfg)
{
    tool_batch b;
    c2s_error err;
    char why[TOOL_ERROR_TEXT_MAX];
    c2s_error_clear(&err);
    if (tool_batch_plan(cfg, &b, &err) != C2S_OK) {
        tool_error(NULL, NULL, "%s", tool_error_text(&err, why, sizeof why));
        tool_batch_free(&b);
        return err.status;
    }
    int nothing = tool_batch_warn(cfg, &b);
    c2s_open_options oo = tool_open_options(cfg);
    int worst = C2S_OK;
    size_t count[C2S_VERDICT_CORRUPT + 1] = {0}; /* by verdict */
    tool_scan_rows rows = {0};
    for (size_t i = 0; i < b.njobs && !g_signal; i++) {
        const tool_job *job = &b.jobs[i];
        c2s_report rep;
        c2s_status st = C2S_ERR_INPUT;
        if (job->problem != NULL) {
            memset(&rep, 0, sizeof rep);
            rep.verdict = C2S_VERDICT_UNREADABLE;
            tool_fail(&rep.error, C2S_ERR_INPUT, "%s", job->problem);
        } else {
            st = tool_scan_input(job->input, &oo, &g_signal, &rep);
        }
        tool_print_scan(stdout, cfg, job->input, &rep);
        tool_scan_rows_add(&rows, job->input, &rep);
        if ((size_t)rep.verdict < sizeof count / sizeof count[0])
            count[rep.verdict]++;
        c2s_report_free(&rep);
        if (st == C2S_ERR_REFUSED || (st == C2S_ERR_INPUT && worst == C2S_OK))
            worst = st;
    }
    if (b.njobs > 1 || cfg->nroots > 0)
        tool_info(NULL, cfg,
                  "scanned %zu file%s: %zu safe, %zu unsafe, %zu corrupt, %zu unreadable", b.njobs,
                  tool_plural(b.njobs), count[C2S_VERDICT_SAFE], count[C2S_VERDICT_UNSAFE],
                  count[C2S_VERDICT_CORRUPT], count[C2S_VERDICT_UNREADABLE]);
    if (b.njobs > 1 || cfg->nroots > 0) {
        tool_scan_rows_sort(&rows);
        tool_scan_rows_print(cfg, &rows);
        if (cfg->json)
            tool_scan_summary_json(stdout, &rows, count);
    }
    tool_scan_rows_free(&rows);
    tool_batch_free(&b);
    if (worst == C2S_OK && nothing)
        worst = C2S_ERR_INPUT;
    return fflush(stdout) == 0 ? worst : C2S_ERR_INPUT;
}

/* A file --list could not read: the message on stderr, and with --json
 * its own JSON line. */
static int list_failed(const tool_config *cfg, const char *file, const c2s_error *err)
{
    char why[TOOL_ERROR_TEXT_MAX];
    tool_error_text(err, why, sizeof why);
    tool_error(NULL, file, "%s", why);
    if (cfg->json)
        tool_print_list_error(stdout, file, why);
    return err->status;
}

/* --list of a .safetensors file: its header, validated; no data read. */
static int list_safetensors(const tool_config *cfg, const char *file)
{
    c2s_error err;
    c2s_error_clear(&err);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tool_fail(&err, C2S_ERR_INPUT, "cannot open: %s", strerror(errno));
        return list_failed(cfg, file, &err);
    }
    c2s_safetensors *f = NULL;
    c2s_status st = c2s_safetensors_open_fd(fd, &f, &err);
    close(fd);
    if (st != C2S_OK)
        return list_failed(cfg, file, &err);
    tool_warn_unmatched(cfg, file, &(tool_tensors){NULL, f}, NULL);
    c2s_write_options wo = tool_select_options(cfg);
    if ((st = c2s_safetensors_check_names(f, &wo, &err)) != C2S_OK) {
        c2s_safetensors_close(f);
        return list_failed(cfg, file, &err);
    }
    int rc = tool_print_list_st(stdout, cfg, file, f);
    c2s_safetensors_close(f);
    if (rc != 0)
        tool_error(NULL, file, "out of memory");
    return rc == 0 ? C2S_OK : C2S_ERR_INPUT;
}

static int list_checkpoint(const tool_config *cfg, const char *file)
{
    c2s_open_options oo = tool_open_options(cfg);
    c2s_checkpoint *ck = NULL;
    c2s_error err;
    c2s_error_clear(&err);
    c2s_status st = tool_open_input(file, &oo, &g_signal, &ck, &err);
    if (g_signal) {
        c2s_close(ck);
        die_of_signal();
    }
    c2s_write_options wo = tool_select_options(cfg);
    if (st == C2S_OK) {
        tool_warn_unmatched(cfg, file, &(tool_tensors){ck, NULL}, NULL);
        st = c2s_check_names(ck, &wo, &err);
    }
    if (st != C2S_OK) {
        c2s_close(ck);
        return list_failed(cfg, file, &err);
    }
    int rc = tool_print_list(stdout, cfg, file, ck);
    c2s_close(ck);
    if (rc != 0)
        tool_error(NULL, file, "out of memory");
    return rc == 0 ? C2S_OK : C2S_ERR_INPUT;
}

/* --list FILE...: each file in turn, under a "==> FILE <==" line when
 * there are several (as head(1) does), blank lines between; the worst
 * status wins, as for conversions. */
static int list(const tool_config *cfg)
{
    int worst = C2S_OK;
    for (size_t i = 0; i < cfg->ninputs; i++) {
        const char *file = cfg->inputs[i];
        if (cfg->ninputs > 1 && !cfg->json)
            printf("%s==> %s <==\n", i > 0 ? "\n" : "", file);
        fflush(stdout); /* before any message about the file on stderr */
        int rc = tool_has_suffix(file, ".safetensors") && !tool_needs_spool(file)
                     ? list_safetensors(cfg, file)
                     : list_checkpoint(cfg, file);
        if (rc == C2S_ERR_REFUSED || (rc != C2S_OK && worst == C2S_OK))
            worst = rc;
    }
    return fflush(stdout) == 0 ? worst : C2S_ERR_INPUT;
}

int main(int argc, char **argv)
{
    tool_config cfg;
    c2s_error err;
    char why[TOOL_ERROR_TEXT_MAX];
    c2s_error_clear(&err);
    if (tool_parse_args(argc, argv, &cfg, &err) != C2S_OK) {
        tool_error(NULL, NULL, "%s", tool_error_text(&err, why, sizeof why));
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
    int rc = cfg.scan ? scan_all(&cfg) : cfg.list ? list(&cfg) : tool_run(&cfg, &g_signal);
    tool_config_free(&cfg);
    if (g_signal)
        die_of_signal();
    return rc;
}
