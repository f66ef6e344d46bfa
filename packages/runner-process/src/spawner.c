/*
 * sluice-spawner: the PROCESS runner's compiled spawner (`spawn: 'native'`). Same role as spawner.cjs, without
 * Node: one small process per worker starts every command with clone(CLONE_VM | CLONE_VFORK), as glibc's
 * posix_spawn does: no page tables are copied, so a start costs the same whatever this process holds, and about a
 * fifth of a fork from a Node process (`npm run bench:spawn`). The parent side is native-spawn.ts, which also
 * compiles this file (`cc -O2`) on first use or at `npm run build`.
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
 * Signals stay with the parent, which kills process groups itself.
 *
 * When the worker dies, its commands die with it (at most one live run of a task attempt: the queue hands the
 * job to another worker once the dead one's lock expired). How:
 * - This process exits when its stdin ends: the worker exited or died (the kernel closes a dead process's pipes,
 *   however it died, and no other process holds the worker's end: Node opens it close-on-exec). On its way out,
 *   whatever the reason, it sends SIGKILL to the process group of every command it started whose group may still
 *   have a member, so no command outlives this process. Not SIGTERM: the task attempt is given up and will run
 *   again elsewhere; a grace period would only stretch the overlap.
 * - A command's entry is kept until the command exited, its pipes closed and its process group is gone, not just
 *   its shell: background children still run after the shell exited until the worker kills the group. A group id
 *   cannot be taken by a new group while the old one has a member, so the SIGKILL never reaches a stranger.
 * - This process is a child subreaper (Linux): a command's orphaned background processes are re-parented here,
 *   reaped here, and a group of zombies does not look alive for ever where PID 1 does not reap (containers).
 * - Each command's shell gets PR_SET_PDEATHSIG(SIGKILL) between clone and exec (why not posix_spawn: it has no
 *   such hook): if this process is killed outright (SIGKILL, the OOM killer) the shell dies with it. That covers
 *   the group leader only: when the worker is alive it sees this process lost and kills the groups itself; when
 *   both die at the same moment, background processes of the commands then running can survive. A per-command
 *   guardian process would close that gap at the cost of a second process per command; killing the worker and
 *   its spawner together takes a deliberate act (the spawner runs in a session of its own, so neither Ctrl-C nor
 *   a kill of the worker's process group reaches it), while a service manager or a container runtime stopping the
 *   worker kills its whole cgroup anyway.
 * Why not PR_SET_PDEATHSIG on this process itself: it would follow the worker thread that started it, not the
 * worker process, and kill it with SIGKILL before it could kill the groups; the end of stdin says the same thing
 * at the right moment, and is what spawner.cjs uses too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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
  pid_t pid; /* also its process group id */
  int fds[2]; /* stdout and stderr read ends, -1 once closed */
  int exited;
} command_t;

typedef struct {
  char *data;
  size_t len, cap;
} buffer_t;

static command_t *commands;
static size_t ncommands, capcommands;
/* Commands that exited, pipes closed, kept only because their group still has a member: looked at again soon. */
static size_t lingering;
static buffer_t out, in;
static size_t in_start; /* consumed bytes at the front of `in` */
static char chunk[CHUNK];

/* Every exit goes through here: no command outlives this process (see the top of the file). */
static void quit(int code) {
  for (size_t i = 0; i < ncommands; i++) kill(-commands[i].pid, SIGKILL);
  _exit(code);
}

static void *grow(void *ptr, size_t size) {
  void *next = realloc(ptr, size);
  if (next == NULL) quit(70);
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
      quit(0);
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

/* The running command of that pid (an entry kept for its group has exited: its pid is no longer its own). */
static command_t *find_pid(pid_t pid) {
  for (size_t i = 0; i < ncommands; i++)
    if (commands[i].pid == pid && !commands[i].exited) return &commands[i];
  return NULL;
}

static void close_pipe(command_t *command, int which) {
  if (command->fds[which] < 0) return;
  close(command->fds[which]);
  command->fds[which] = -1;
  if (command->fds[0] < 0 && command->fds[1] < 0) event(EV_CLOSED, command->id, NULL, 0);
}

static int group_gone(pid_t pgid) { return kill(-pgid, 0) != 0 && errno == ESRCH; }

/* Forget commands that exited, whose pipes are closed and whose process group is gone. */
static void sweep(void) {
  size_t kept = 0;
  lingering = 0;
  for (size_t i = 0; i < ncommands; i++) {
    command_t *command = &commands[i];
    if (command->exited && command->fds[0] < 0 && command->fds[1] < 0) {
      if (group_gone(command->pid)) continue;
      lingering++;
    }
    commands[kept++] = *command;
  }
  ncommands = kept;
}

static const char *env_path(char *const env[]) {
  for (size_t i = 0; env[i]; i++)
    if (strncmp(env[i], "PATH=", 5) == 0) return env[i] + 5;
  return DEFAULT_PATH;
}

/* What the child needs; it shares our memory (CLONE_VM) and writes `error` when a step fails. */
typedef struct {
  char **candidates; /* files to exec, in order */
  size_t ncandidates;
  char *const *argv, *const *env;
  const char *cwd;
  int out, err; /* write ends of the output pipes */
  pid_t parent;
  volatile int error;
} child_t;

/* The child's own stack: one child at a time uses it, from clone until its exec (CLONE_VFORK suspends us). */
static char child_stack[64 * 1024] __attribute__((aligned(16)));

/*
 * Between clone and exec, in the child. It runs on its own stack but in our memory, so it only makes system calls
 * (no allocation) and reports a failure through `error`. Order as posix_spawn: session, signals, files, directory.
 */
static int child_main(void *arg) {
  child_t *child = arg;
  int error;
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL); /* glibc's reserved ones fail: fine */
  if (setsid() < 0) goto failed;
  /* Die with this spawner; if it already died (we would miss the signal), give up. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) goto failed;
  if (getppid() != child->parent) {
    errno = ESRCH;
    goto failed;
  }
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(child->out, STDOUT_FILENO) < 0 || dup2(child->err, STDERR_FILENO) < 0) goto failed;
  if (chdir(child->cwd) != 0) goto failed;
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* As posix_spawn tried each candidate: the first that runs; EACCES wins over ENOENT if none does. */
  error = ENOENT;
  for (size_t i = 0; i < child->ncandidates; i++) {
    execve(child->candidates[i], child->argv, child->env);
    if (errno == EACCES) {
      error = EACCES;
    } else if (errno != ENOENT && errno != ENOTDIR) {
      error = errno;
      break;
    }
  }
  child->error = error;
  _exit(127);
failed:
  child->error = errno ? errno : EIO;
  _exit(127);
}

/* `file`, or the regular files named `file` in the command's PATH when it has no slash, in PATH order. */
static char **candidates_for(const char *file, char *const env[], size_t *count) {
  char **candidates = NULL;
  size_t n = 0;
  if (strchr(file, '/') != NULL) {
    candidates = grow(NULL, sizeof *candidates);
    candidates[n++] = strcpy(grow(NULL, strlen(file) + 1), file);
  } else if (*file != '\0') {
    const char *path = env_path(env);
    size_t flen = strlen(file);
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
        candidates = grow(candidates, (n + 1) * sizeof *candidates);
        candidates[n++] = candidate;
      } else {
        free(candidate);
      }
      if (*end == '\0') break;
      dir = end;
    }
  }
  *count = n;
  return candidates;
}

/* Start the command: its pid, or -1 with *error set. */
static pid_t spawn_command(const char *file, const char *cwd, char *const argv[], char *const env[], int out, int err, int *error) {
  child_t child = {.argv = argv, .env = env, .cwd = cwd, .out = out, .err = err, .parent = getpid(), .error = 0};
  child.candidates = candidates_for(file, env, &child.ncandidates);
  pid_t pid = -1;
  if (child.ncandidates == 0) {
    *error = ENOENT;
  } else {
    /* No signal handler may run in the child before it reset them: block everything around the clone. */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid = clone(child_main, child_stack + sizeof child_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &child);
    int clone_error = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
      *error = clone_error;
    } else if (child.error != 0) {
      /* It exited without exec: reap it here, the reaper never hears of it. */
      *error = child.error;
      while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
      }
      pid = -1;
    }
  }
  for (size_t i = 0; i < child.ncandidates; i++) free(child.candidates[i]);
  free(child.candidates);
  return pid;
}

static void start(uint32_t id, const char *payload, size_t len) {
  uint32_t argc, envc;
  if (len < 8) quit(65);
  memcpy(&argc, payload, 4);
  memcpy(&envc, payload + 4, 4);
  const char *cursor = payload + 8, *end = payload + len;
  size_t nstrings = 2 + (size_t)argc + envc;
  if (nstrings > len) quit(65);
  const char **strings = grow(NULL, (nstrings + 2) * sizeof *strings);
  for (size_t i = 0; i < nstrings; i++) {
    const char *nul = memchr(cursor, '\0', (size_t)(end - cursor));
    if (nul == NULL) quit(65);
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
    pid = spawn_command(file, cwd, argv, env, pipes[0][1], pipes[1][1], &error);
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
    if (size < 5 || size > MAX_FRAME) quit(65);
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
      quit(65);
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
  if (n == 0) quit(0);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN) return;
    quit(0);
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
  /* Orphans of the commands come to us rather than to PID 1, and are reaped (reap() waits for any child). */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  sigset_t child;
  sigemptyset(&child);
  sigaddset(&child, SIGCHLD);
  sigprocmask(SIG_BLOCK, &child, NULL);
  signal(SIGPIPE, SIG_IGN);
  /* Ctrl-C reaches the parent's terminal group; this process follows the parent through stdin instead. */
  signal(SIGINT, SIG_IGN);
  int sigfd = signalfd(-1, &child, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sigfd < 0) quit(71);
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
    /* A group that outlived its command is looked at again within a second even if nothing else happens. */
    if (poll(fds, n, lingering ? 1000 : -1) < 0) {
      if (errno == EINTR) continue;
      quit(71);
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
