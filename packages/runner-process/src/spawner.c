/*
 * sluice-spawner: the PROCESS runner's compiled spawner (`spawn: 'native'`). Same role as spawner.cjs, without
 * Node: one small process per worker starts every command with posix_spawn, which glibc implements with
 * clone(CLONE_VM | CLONE_VFORK). No page tables are copied, so a start costs the same whatever this process holds,
 * and about a fifth of a fork from a Node process (`npm run bench:spawn`). The parent side is native-spawn.ts, which
 * also compiles this file (`cc -O2`) on first use or at `npm run build`.
 *
 * Protocol: frames on stdin (requests) and stdout (events), each a u32 byte count followed by that many bytes.
 * Integers are in the machine's byte order (both ends run on the same machine).
 *   in:  u8 op, u32 id, then
 *          op 1 (spawn):   u32 argc, u32 envc, then NUL-terminated strings: file, cwd, argc args, envc "K=V"
 *          op 2 (destroy): nothing; stop reading the command's output and close its pipes
 *   out: u8 type, u32 id, then
 *          1 spawned: i32 pid      2 error: i32 errno      3 output: u8 fd (1 or 2), the bytes
 *          4 exit: i32 code (-1 when signalled), i32 signal (0 when exited)      5 closed: nothing, the last event
 * Commands start detached (their own session and process group), with stdin on /dev/null, signals at their
 * defaults and an empty signal mask. A bare file name is looked up in the command's own PATH, as Node does.
 * Signals stay with the parent, which kills process groups itself. This process exits when stdin ends (the
 * parent exited or died); the commands it started are then on their own, as with a direct spawn.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { OP_SPAWN = 1, OP_DESTROY = 2 };
enum { EV_SPAWNED = 1, EV_ERROR = 2, EV_OUTPUT = 3, EV_EXIT = 4, EV_CLOSED = 5 };

/* Output read but not yet written to stdout. Above HIGH_WATER the commands' pipes are no longer read (the commands
 * block on a full pipe) until the parent took it down to LOW_WATER: this process stays small whatever the rate. */
#define HIGH_WATER (1024 * 1024)
#define LOW_WATER (256 * 1024)
#define CHUNK 65536
#define MAX_FRAME (64 * 1024 * 1024)
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

typedef struct {
  uint32_t id;
  pid_t pid;
  int fds[2]; /* stdout and stderr read ends, -1 once closed */
  int exited;
} command_t;

typedef struct {
  char *data;
  size_t len, cap;
} buffer_t;

static command_t *commands;
static size_t ncommands, capcommands;
static buffer_t out, in;
static size_t in_start; /* consumed bytes at the front of `in` */
static char chunk[CHUNK];

static void die(void) { _exit(0); }

static void *grow(void *ptr, size_t size) {
  void *next = realloc(ptr, size);
  if (next == NULL) _exit(70);
  return next;
}

static void reserve(buffer_t *buffer, size_t more) {
  if (buffer->len + more <= buffer->cap) return;
  size_t cap = buffer->cap ? buffer->cap : 4096;
  while (cap < buffer->len + more) cap *= 2;
  buffer->data = grow(buffer->data, cap);
  buffer->cap = cap;
}

static void append(buffer_t *buffer, const void *bytes, size_t len) {
  reserve(buffer, len);
  memcpy(buffer->data + buffer->len, bytes, len);
  buffer->len += len;
}

/* One event: its header and `len` bytes of payload. */
static void event(uint8_t type, uint32_t id, const void *payload, size_t len) {
  uint32_t size = (uint32_t)(1 + 4 + len);
  append(&out, &size, 4);
  append(&out, &type, 1);
  append(&out, &id, 4);
  if (len) append(&out, payload, len);
}

static void event_i32(uint8_t type, uint32_t id, int32_t value) { event(type, id, &value, 4); }

/* Write what stdout takes without blocking; stdout is non-blocking. The parent gone: exit. */
static void flush_out(void) {
  size_t done = 0;
  while (done < out.len) {
    ssize_t n = write(STDOUT_FILENO, out.data + done, out.len - done);
    if (n > 0) {
      done += (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      die();
    }
  }
  memmove(out.data, out.data + done, out.len - done);
  out.len -= done;
}

static command_t *find_id(uint32_t id) {
  for (size_t i = 0; i < ncommands; i++)
    if (commands[i].id == id) return &commands[i];
  return NULL;
}

static command_t *find_pid(pid_t pid) {
  for (size_t i = 0; i < ncommands; i++)
    if (commands[i].pid == pid) return &commands[i];
  return NULL;
}

static void close_pipe(command_t *command, int which) {
  if (command->fds[which] < 0) return;
  close(command->fds[which]);
  command->fds[which] = -1;
  if (command->fds[0] < 0 && command->fds[1] < 0) event(EV_CLOSED, command->id, NULL, 0);
}

/* Forget commands that exited and whose pipes are closed. */
static void sweep(void) {
  size_t kept = 0;
  for (size_t i = 0; i < ncommands; i++) {
    command_t *command = &commands[i];
    if (command->exited && command->fds[0] < 0 && command->fds[1] < 0) continue;
    commands[kept++] = *command;
  }
  ncommands = kept;
}

static const char *env_path(char *const env[]) {
  for (size_t i = 0; env[i]; i++)
    if (strncmp(env[i], "PATH=", 5) == 0) return env[i] + 5;
  return DEFAULT_PATH;
}

/* posix_spawn of `file`, or of the first executable `file` in the command's PATH when it has no slash. */
static int spawn_in_path(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions, const posix_spawnattr_t *attr,
                         char *const argv[], char *const env[]) {
  if (strchr(file, '/') != NULL) return posix_spawn(pid, file, actions, attr, argv, env);
  if (*file == '\0') return ENOENT;
  const char *path = env_path(env);
  size_t flen = strlen(file);
  int error = ENOENT;
  for (const char *dir = path;; dir++) {
    const char *end = strchrnul(dir, ':');
    size_t dlen = (size_t)(end - dir);
    char *candidate = grow(NULL, dlen + flen + 2);
    if (dlen == 0) {
      memcpy(candidate, file, flen + 1); /* an empty entry is the current directory */
    } else {
      memcpy(candidate, dir, dlen);
      candidate[dlen] = '/';
      memcpy(candidate + dlen + 1, file, flen + 1);
    }
    struct stat info;
    if (stat(candidate, &info) == 0 && S_ISREG(info.st_mode)) {
      int result = posix_spawn(pid, candidate, actions, attr, argv, env);
      free(candidate);
      if (result != EACCES && result != ENOENT && result != ENOTDIR) return result;
      if (result == EACCES) error = EACCES;
    } else {
      free(candidate);
    }
    if (*end == '\0') return error;
    dir = end;
  }
}

static void start(uint32_t id, const char *payload, size_t len) {
  uint32_t argc, envc;
  if (len < 8) _exit(65);
  memcpy(&argc, payload, 4);
  memcpy(&envc, payload + 4, 4);
  const char *cursor = payload + 8, *end = payload + len;
  size_t nstrings = 2 + (size_t)argc + envc;
  if (nstrings > len) _exit(65);
  const char **strings = grow(NULL, (nstrings + 2) * sizeof *strings);
  for (size_t i = 0; i < nstrings; i++) {
    const char *nul = memchr(cursor, '\0', (size_t)(end - cursor));
    if (nul == NULL) _exit(65);
    strings[i] = cursor;
    cursor = nul + 1;
  }
  const char *file = strings[0], *cwd = strings[1];
  /* argv and env, each NULL-terminated, share the array: [file, cwd, argv..., NULL, env..., NULL]. */
  char **argv = grow(NULL, ((size_t)argc + 1) * sizeof *argv);
  char **env = grow(NULL, ((size_t)envc + 1) * sizeof *env);
  for (uint32_t i = 0; i < argc; i++) argv[i] = (char *)strings[2 + i];
  argv[argc] = NULL;
  for (uint32_t i = 0; i < envc; i++) env[i] = (char *)strings[2 + argc + i];
  env[envc] = NULL;

  int pipes[2][2] = {{-1, -1}, {-1, -1}};
  int error = 0;
  pid_t pid = -1;
  if (pipe2(pipes[0], O_CLOEXEC) != 0 || pipe2(pipes[1], O_CLOEXEC) != 0) {
    error = errno;
  } else {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pipes[0][1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, pipes[1][1], STDERR_FILENO);
    posix_spawn_file_actions_addchdir_np(&actions, cwd);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    error = spawn_in_path(&pid, file, &actions, &attr, argv, env);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  for (int i = 0; i < 2; i++)
    if (pipes[i][1] >= 0) close(pipes[i][1]);
  free(argv);
  free(env);
  free(strings);
  if (error != 0) {
    for (int i = 0; i < 2; i++)
      if (pipes[i][0] >= 0) close(pipes[i][0]);
    event_i32(EV_ERROR, id, error);
    return;
  }
  if (ncommands == capcommands) {
    capcommands = capcommands ? capcommands * 2 : 64;
    commands = grow(commands, capcommands * sizeof *commands);
  }
  for (int i = 0; i < 2; i++) fcntl(pipes[i][0], F_SETFL, O_NONBLOCK);
  commands[ncommands++] = (command_t){.id = id, .pid = pid, .fds = {pipes[0][0], pipes[1][0]}, .exited = 0};
  event_i32(EV_SPAWNED, id, pid);
}

/* Complete frames in `in`, in order. */
static void handle_requests(void) {
  for (;;) {
    size_t available = in.len - in_start;
    uint32_t size;
    if (available < 4) break;
    memcpy(&size, in.data + in_start, 4);
    if (size < 5 || size > MAX_FRAME) _exit(65);
    if (available < 4 + (size_t)size) break;
    const char *frame = in.data + in_start + 4;
    uint8_t op = (uint8_t)frame[0];
    uint32_t id;
    memcpy(&id, frame + 1, 4);
    if (op == OP_SPAWN) {
      start(id, frame + 5, size - 5);
    } else if (op == OP_DESTROY) {
      command_t *command = find_id(id);
      if (command != NULL) {
        close_pipe(command, 0);
        close_pipe(command, 1);
      }
    } else {
      _exit(65);
    }
    in_start += 4 + (size_t)size;
  }
  memmove(in.data, in.data + in_start, in.len - in_start);
  in.len -= in_start;
  in_start = 0;
}

static void read_requests(void) {
  reserve(&in, CHUNK);
  ssize_t n = read(STDIN_FILENO, in.data + in.len, in.cap - in.len);
  if (n == 0) die();
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN) return;
    die();
  }
  in.len += (size_t)n;
  handle_requests();
}

static void read_output(command_t *command, int which) {
  ssize_t n = read(command->fds[which], chunk, sizeof chunk);
  if (n > 0) {
    uint32_t size = (uint32_t)(1 + 4 + 1 + n);
    uint8_t type = EV_OUTPUT, fd = (uint8_t)(which + 1);
    append(&out, &size, 4);
    append(&out, &type, 1);
    append(&out, &command->id, 4);
    append(&out, &fd, 1);
    append(&out, chunk, (size_t)n);
  } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
    close_pipe(command, which);
  }
}

static void reap(int sigfd) {
  struct signalfd_siginfo info;
  while (read(sigfd, &info, sizeof info) > 0) {
  }
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    command_t *command = find_pid(pid);
    if (command == NULL) continue;
    command->exited = 1;
    int32_t values[2] = {WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0};
    event(EV_EXIT, command->id, values, sizeof values);
  }
}

int main(void) {
  sigset_t child;
  sigemptyset(&child);
  sigaddset(&child, SIGCHLD);
  sigprocmask(SIG_BLOCK, &child, NULL);
  signal(SIGPIPE, SIG_IGN);
  /* Ctrl-C reaches the parent's terminal group; this process follows the parent through stdin instead. */
  signal(SIGINT, SIG_IGN);
  int sigfd = signalfd(-1, &child, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sigfd < 0) return 71;
  fcntl(STDIN_FILENO, F_SETFD, FD_CLOEXEC);
  fcntl(STDOUT_FILENO, F_SETFD, FD_CLOEXEC);
  fcntl(STDOUT_FILENO, F_SETFL, fcntl(STDOUT_FILENO, F_GETFL) | O_NONBLOCK);

  struct pollfd *fds = NULL;
  int *which = NULL;
  size_t capfds = 0;
  int reading = 1;
  for (;;) {
    if (reading && out.len > HIGH_WATER) reading = 0;
    if (!reading && out.len <= LOW_WATER) reading = 1;
    size_t need = 3 + 2 * ncommands;
    if (need > capfds) {
      capfds = need * 2;
      fds = grow(fds, capfds * sizeof *fds);
      which = grow(which, capfds * sizeof *which);
    }
    size_t n = 0;
    fds[n++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = sigfd, .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = out.len ? STDOUT_FILENO : -1, .events = POLLOUT};
    if (reading) {
      for (size_t i = 0; i < ncommands; i++) {
        for (int w = 0; w < 2; w++) {
          if (commands[i].fds[w] < 0) continue;
          which[n] = (int)(i * 2 + (size_t)w);
          fds[n++] = (struct pollfd){.fd = commands[i].fds[w], .events = POLLIN};
        }
      }
    }
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      return 71;
    }
    /* Output first, then exits, so that a command's output reaches the parent before its end when both are ready. */
    for (size_t i = 3; i < n; i++) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      command_t *command = &commands[which[i] / 2];
      int w = which[i] % 2;
      if (command->fds[w] == fds[i].fd) read_output(command, w);
    }
    if (fds[1].revents & POLLIN) reap(sigfd);
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) read_requests();
    sweep();
    if (out.len) flush_out();
  }
}
