/* The fuzz input as a file (an in-memory one), so that the real open/read/mmap paths run. */
#ifndef JF_FUZZ_MEMFD_INPUT_H
#define JF_FUZZ_MEMFD_INPUT_H

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* Writes data to a new memfd and its /proc path into path; returns the descriptor (close it
 * after use), or -1. */
static inline int memfd_input(const char *name, const uint8_t *data, size_t size, char path[64])
{
    int fd = memfd_create(name, 0);
    if (fd < 0)
        return -1;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return -1;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

#endif
