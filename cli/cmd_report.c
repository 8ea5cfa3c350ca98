/* jf report: the HTML report of a dataset and its evaluations (report/jf_report.h), and a
 * screenshot of it by a headless chromium when one is installed. */
#include "cli.h"
#include "jf_report.h"

#include <getopt.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char REPORT_HELP[] =
    "usage: jf report DATASET[/#SUBSET] [--eval RESULT.json]... [--out report.html] [options]\n"
    "\n"
    "One self-contained HTML file (inline CSS and SVG, thumbnails as JPEG data URIs; no script and\n"
    "no external fetch, enforced by its Content-Security-Policy): the dataset overview (samples by\n"
    "kind, source and image format, bytes), ingest outcomes per reason with the failed samples'\n"
    "files and offsets, the funnel of every filter subset, a histogram of every numeric index column\n"
    "(sizes, aspect, aesthetic, punsafe, CLIP score, ...), the largest near-duplicate clusters with\n"
    "thumbnails, a grid of sample thumbnails with captions per source, and the results passed with\n"
    "--eval (the --json output of jf eval fid, clipscore and bench: tables with protocol and weights\n"
    "hash, benchmark categories as bars). Text from the data is escaped: it shows as text.\n"
    "\n"
    "  --out FILE          output (default DATASET/report.html); written through FILE.partial\n"
    "  --eval FILE         a jf eval --json output (JSON or JSON lines); repeatable\n"
    "  --where RULE        one more grid: samples matching this SQL condition over the index\n"
    "  --subset NAME       overview, histograms and grids of this subset only (or DATASET/#NAME)\n"
    "  --title TEXT        page title (default: the dataset folder)\n"
    "  --thumbs N          thumbnails per grid (default 12); --thumb-size PX (default 128)\n"
    "  --max-mb N          cap on the file size in MiB (default 8): thumbnails beyond it are left out\n"
    "  --screenshot PNG    also render the page with headless chromium into PNG (1280 wide)\n"
    "  --json, --quiet\n";

/* Renders `html` with headless chromium into `png`. Returns 0, or -1 with a reason in `why`. */
static int screenshot(const char *html, const char *png, char *why, size_t n)
{
    static const char *const browsers[] = {"chromium", "chromium-browser", "google-chrome", NULL};
    const char *path = getenv("PATH");
    char exe[PATH_MAX] = "";
    for (int i = 0; browsers[i] && !*exe; i++) {
        char *dirs = strdup(path ? path : "/usr/bin:/bin");
        char *save = NULL;
        for (char *d = strtok_r(dirs, ":", &save); d && !*exe; d = strtok_r(NULL, ":", &save)) {
            char cand[PATH_MAX];
            snprintf(cand, sizeof cand, "%s/%s", d, browsers[i]);
            if (access(cand, X_OK) == 0)
                snprintf(exe, sizeof exe, "%s", cand);
        }
        free(dirs);
    }
    if (!*exe) {
        snprintf(why, n, "no chromium on PATH (apt-get install chromium)");
        return -1;
    }
    char abs_html[PATH_MAX], url[PATH_MAX + 16], shot[PATH_MAX + 16];
    if (!realpath(html, abs_html)) {
        snprintf(why, n, "%s: cannot resolve the path", html);
        return -1;
    }
    snprintf(url, sizeof url, "file://%s", abs_html);
    snprintf(shot, sizeof shot, "--screenshot=%s", png);
    /* a private profile folder, so a running browser of the user is never touched */
    char profile[] = "/tmp/jf-chromium-XXXXXX";
    if (!mkdtemp(profile)) {
        snprintf(why, n, "cannot make a temporary profile folder");
        return -1;
    }
    char udd[PATH_MAX];
    snprintf(udd, sizeof udd, "--user-data-dir=%s", profile);
    const char *argv[16];
    int a = 0;
    argv[a++] = exe;
    argv[a++] = "--headless=new";
    if (geteuid() == 0)
        argv[a++] = "--no-sandbox"; /* chromium refuses to run as root with its sandbox */
    argv[a++] = "--disable-gpu";
    argv[a++] = "--hide-scrollbars";
    argv[a++] = "--window-size=1280,2400";
    argv[a++] = udd;
    argv[a++] = shot;
    argv[a++] = url;
    argv[a] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    unlink(png);
    int rc = posix_spawn(&pid, exe, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    int status = 0;
    if (rc == 0)
        waitpid(pid, &status, 0);
    char rm[PATH_MAX + 16];
    snprintf(rm, sizeof rm, "rm -rf '%s'", profile);
    if (system(rm) != 0) { /* a leftover profile folder is harmless */
    }
    struct stat sb;
    if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || stat(png, &sb) != 0 || sb.st_size == 0) {
        snprintf(why, n, "%s failed (exit %d)", exe, rc ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return -1;
    }
    return 0;
}

int cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, 0, 'o'},    {"eval", required_argument, 0, 'e'},       {"where", required_argument, 0, 'w'},
        {"subset", required_argument, 0, 's'}, {"title", required_argument, 0, 't'},      {"thumbs", required_argument, 0, 'n'},
        {"thumb-size", required_argument, 0, 'z'}, {"max-mb", required_argument, 0, 'm'}, {"screenshot", required_argument, 0, 'S'},
        {"json", no_argument, 0, 'j'},         {"quiet", no_argument, 0, 'q'},            {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    cli_opts o = {0};
    jf_report_params p = jf_report_default_params();
    const char *out = NULL, *shot = NULL;
    const char **evals = calloc((size_t)argc + 1, sizeof *evals);
    size_t ne = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:e:w:s:t:n:z:m:S:jqh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'e': evals[ne++] = optarg; break;
        case 'w': p.where = optarg; break;
        case 's': p.subset = optarg; break;
        case 't': p.title = optarg; break;
        case 'n': p.thumbs_per_grid = atoi(optarg); break;
        case 'z': p.thumb_size = atoi(optarg); break;
        case 'm': {
            double mb = atof(optarg);
            if (mb <= 0) {
                free(evals);
                return usage_error("report", "--max-mb must be positive");
            }
            p.max_bytes = (uint64_t)(mb * 1048576.0);
            break;
        }
        case 'S': shot = optarg; break;
        case 'j': o.json = 1; break;
        case 'q': o.quiet = 1; break;
        case 'h': fputs(REPORT_HELP, stdout); free(evals); return 0;
        default: free(evals); return usage_error("report", "see jf report --help");
        }
    }
    if (optind + 1 != argc) {
        free(evals);
        return usage_error("report", "one DATASET expected (see jf report --help)");
    }
    char *dir = strdup(argv[optind]);
    char *hash = strstr(dir, "#");
    if (hash) { /* DATASET/#SUBSET */
        *hash = 0;
        if (!p.subset)
            p.subset = hash + 1;
        size_t l = strlen(dir);
        while (l > 1 && dir[l - 1] == '/')
            dir[--l] = 0;
    }
    p.eval_files = evals;
    p.n_eval_files = ne;
    char *def_out = NULL;
    if (!out) {
        size_t l = strlen(dir) + 16;
        def_out = malloc(l);
        snprintf(def_out, l, "%s/report.html", dir);
        out = def_out;
    }
    jf_error err = {0};
    jf_store *st = NULL;
    jf_status s = jf_store_open(dir, JF_STORE_READONLY, &st, &err);
    jf_report_summary sum = {0};
    if (s == JF_OK)
        s = jf_report_write(st, &p, out, &sum, &err);
    jf_store_close(st);
    int rc = 0;
    char why[PATH_MAX + 64] = "";
    int shot_ok = 0;
    if (s != JF_OK) {
        fprintf(stderr, "jf report: %s\n", err.msg);
        rc = (int)s;
    } else if (shot) {
        shot_ok = screenshot(out, shot, why, sizeof why) == 0;
        if (!shot_ok) {
            fprintf(stderr, "jf report: screenshot: %s\n", why);
            rc = EXIT_PROBLEMS;
        }
    }
    if (s == JF_OK) {
        if (o.json) {
            jw w;
            jw_init(&w, stdout);
            jw_obj(&w);
            jw_kstr(&w, "report", out);
            jw_kint(&w, "bytes", (long long)sum.bytes);
            jw_kint(&w, "samples", (long long)sum.samples);
            jw_kint(&w, "sections", (long long)sum.sections);
            jw_kint(&w, "histograms", (long long)sum.histograms);
            jw_kint(&w, "thumbnails", (long long)sum.thumbnails);
            jw_kint(&w, "thumbnails_left_out", (long long)sum.thumbnails_left_out);
            jw_kint(&w, "thumbnails_failed", (long long)sum.thumbnails_failed);
            jw_kint(&w, "eval_results", (long long)sum.eval_results);
            if (shot) {
                jw_key(&w, "screenshot");
                if (shot_ok)
                    jw_str(&w, shot);
                else
                    jw_null(&w);
            }
            jw_end_obj(&w);
            jw_newline(&w);
        } else if (!o.quiet) {
            char hb[32];
            printf("report %s (%s): %llu samples, %llu sections, %llu histograms, %llu thumbnails", out,
                   human_bytes((double)sum.bytes, hb, sizeof hb), (unsigned long long)sum.samples, (unsigned long long)sum.sections,
                   (unsigned long long)sum.histograms, (unsigned long long)sum.thumbnails);
            if (sum.thumbnails_left_out)
                printf(" (%llu left out by the size cap)", (unsigned long long)sum.thumbnails_left_out);
            if (sum.eval_results)
                printf(", %llu evaluation results", (unsigned long long)sum.eval_results);
            printf("\n");
            if (shot_ok)
                printf("screenshot %s\n", shot);
        }
    }
    free(def_out);
    free(dir);
    free(evals);
    return rc;
}
