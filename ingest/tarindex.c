/* Random access into plain (uncompressed) tars by member name, for manifests whose images live
 * in tarballs (ShareGPT4V's SAM and web images are shipped that way). A scan of the 512-byte
 * headers (ustar name + prefix, GNU long names, pax path records) maps each regular member to
 * its data offset; reads are then one pread. */
#include "ingest_internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

typedef struct entry {
    char *name;
    uint64_t offset, size;
} entry;

struct jf__tarindex {
    int fd;
    char *path;
    entry *v;       /* open addressing by name */
    size_t cap, n;
};

static uint64_t octal(const char *p, size_t n)
{
    /* GNU base-256 for sizes over 8 GiB */
    if ((unsigned char)p[0] & 0x80) {
        uint64_t v = (unsigned char)p[0] & 0x7F;
        for (size_t i = 1; i < n; i++)
            v = (v << 8) | (unsigned char)p[i];
        return v;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n && p[i]; i++) {
        if (p[i] == ' ')
            continue;
        if (p[i] < '0' || p[i] > '7')
            break;
        v = v * 8 + (uint64_t)(p[i] - '0');
    }
    return v;
}

static void put(jf__tarindex *t, const char *name, uint64_t off, uint64_t size)
{
    while (name[0] == '.' && name[1] == '/')
        name += 2;
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        entry *v = calloc(cap, sizeof *v);
        if (!v)
            return;
        for (size_t i = 0; i < t->cap; i++)
            if (t->v[i].name) {
                size_t j = XXH3_64bits(t->v[i].name, strlen(t->v[i].name)) & (cap - 1);
                while (v[j].name)
                    j = (j + 1) & (cap - 1);
                v[j] = t->v[i];
            }
        free(t->v);
        t->v = v;
        t->cap = cap;
    }
    size_t j = XXH3_64bits(name, strlen(name)) & (t->cap - 1);
    while (t->v[j].name) {
        if (!strcmp(t->v[j].name, name)) {
            t->v[j].offset = off; /* a later member of the same name wins, as tar extraction does */
            t->v[j].size = size;
            return;
        }
        j = (j + 1) & (t->cap - 1);
    }
    t->v[j].name = strdup(name);
    t->v[j].offset = off;
    t->v[j].size = size;
    t->n++;
}

jf__tarindex *jf__tarindex_open(const char *path, char *why, size_t n)
{
    jf__tarindex *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->fd = open(path, O_RDONLY | O_CLOEXEC);
    t->path = strdup(path);
    struct stat sb;
    if (t->fd < 0 || fstat(t->fd, &sb) != 0) {
        snprintf(why, n, "%s: cannot open", path);
        jf__tarindex_close(t);
        return NULL;
    }
    uint8_t h[512];
    uint64_t off = 0, fsize = (uint64_t)sb.st_size;
    char *longname = NULL;
    while (off + 512 <= fsize) {
        if (pread(t->fd, h, 512, (off_t)off) != 512)
            break;
        int zero = 1;
        for (int i = 0; i < 512 && zero; i++)
            zero = h[i] == 0;
        if (zero)
            break;
        if (off == 0 && memcmp(h + 257, "ustar", 5)) {
            snprintf(why, n, "%s: not a plain tar (compressed tars cannot be read at random; decompress it first)", path);
            free(longname);
            jf__tarindex_close(t);
            return NULL;
        }
        uint64_t size = octal((const char *)h + 124, 12);
        char type = (char)h[156];
        uint64_t data = off + 512;
        uint64_t next = data + ((size + 511) / 512) * 512;
        if (type == 'L' || type == 'x') {
            char *buf = malloc(size + 1);
            if (buf && pread(t->fd, buf, size, (off_t)data) == (ssize_t)size) {
                buf[size] = 0;
                free(longname);
                longname = NULL;
                if (type == 'L') {
                    longname = buf;
                    buf = NULL;
                } else {
                    /* pax records: "LEN key=value\n" */
                    for (char *p = buf; p < buf + size;) {
                        char *sp = strchr(p, ' ');
                        long len = strtol(p, NULL, 10);
                        if (!sp || len <= 0 || p + len > buf + size)
                            break;
                        if (!strncmp(sp + 1, "path=", 5)) {
                            size_t vl = (size_t)(p + len - (sp + 6) - 1);
                            longname = strndup(sp + 6, vl);
                        }
                        p += len;
                    }
                }
            }
            free(buf);
        } else if (type == '0' || type == 0 || type == '7') {
            char name[260];
            if (longname) {
                put(t, longname, data, size);
            } else {
                if (h[345] && !memcmp(h + 257, "ustar", 5))
                    snprintf(name, sizeof name, "%.155s/%.100s", (const char *)h + 345, (const char *)h);
                else
                    snprintf(name, sizeof name, "%.100s", (const char *)h);
                put(t, name, data, size);
            }
            free(longname);
            longname = NULL;
        } else {
            free(longname);
            longname = NULL;
        }
        off = next;
    }
    free(longname);
    return t;
}

size_t jf__tarindex_count(const jf__tarindex *t) { return t->n; }

int jf__tarindex_read(jf__tarindex *t, const char *name, uint8_t **out, size_t *len)
{
    while (name[0] == '.' && name[1] == '/')
        name += 2;
    if (!t->cap)
        return -1;
    size_t j = XXH3_64bits(name, strlen(name)) & (t->cap - 1);
    while (t->v[j].name) {
        if (!strcmp(t->v[j].name, name)) {
            if (t->v[j].size > (1ull << 30))
                return -2;
            *out = malloc(t->v[j].size + 1);
            if (!*out)
                return -2;
            ssize_t got = pread(t->fd, *out, t->v[j].size, (off_t)t->v[j].offset);
            if (got != (ssize_t)t->v[j].size) {
                free(*out);
                *out = NULL;
                return -2;
            }
            *len = t->v[j].size;
            return 0;
        }
        j = (j + 1) & (t->cap - 1);
    }
    return -1;
}

void jf__tarindex_close(jf__tarindex *t)
{
    if (!t)
        return;
    if (t->fd >= 0)
        close(t->fd);
    for (size_t i = 0; i < t->cap; i++)
        free(t->v[i].name);
    free(t->v);
    free(t->path);
    free(t);
}
