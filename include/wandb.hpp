/*  wandb.hpp - the C++ face of wandb.h: a scoped run (optional, header only)
 *  SPDX-License-Identifier: MIT
 *
 *  wandb::Run owns the run of this process, as the seed's
 *  `with wandb.init() as run:` does: its destructor finishes the run, with
 *  exit code 0, or 1 (failed) when it runs during stack unwinding. Move-only.
 *
 *      wandb::Settings s;
 *      s.set("project", "demo");
 *      wandb::Run run = wandb::init(s);
 *      run.config({{"lr", 0.01}, {"optimizer", "sgd"}});
 *      for (int step = 0; step < 100; step++)
 *          run.log({{"loss", loss}, {"acc", acc}});   // no allocation
 *      run.summary({{"best_acc", best}});
 *  // leaving the scope finishes the run (failed when an exception leaves it)
 *
 *  Errors are exceptions: wandb::Error (a std::runtime_error) carries the
 *  wandb_err code and a text naming the call, wandb_strerror's words and the
 *  library's own message for that call (which setting, which key and why).
 *  One exception to it: log() returns false when the row was dropped
 *  because a bounded buffer was full (WANDB_EFULL with ring_full=drop; the
 *  drop is counted in dropped() and warned about), so a training loop does
 *  not die because telemetry fell behind. docs/cpp.md has the rest.
 *
 *  The library's messages: the first wandb::init installs a logger callback
 *  (wandb_set_logger) that keeps the last warning of each thread for
 *  wandb::Error and forwards every message to the function given to
 *  wandb::set_logger, or to stderr as the library's default does. C++ code
 *  sets its logger with wandb::set_logger, not wandb_set_logger.
 *
 *  Thread: a Run may be used from any thread as the C calls allow (log is
 *  serialized inside); construct, move, finish and destroy it in one thread.
 *  Needs C++17 (std::uncaught_exceptions, inline variables).
 */
#ifndef WANDB_HPP_INCLUDED
#define WANDB_HPP_INCLUDED

#if __cplusplus < 201703L
#error "wandb.hpp needs C++17; wandb.h alone compiles as C++11"
#endif

#include "wandb.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace wandb
{

// ---------------------------------------------------------------------------
// Errors.

class Error : public std::runtime_error
{
  public:
    // where: the call ("wandb::Run::log"); detail: the library's message, or NULL.
    Error(wandb_err code, const std::string &where, const char *detail = nullptr)
        : std::runtime_error(s_text(code, where, detail)), code_(code),
          detail_(detail ? detail : "")
    {
    }
    // The wandb_err of the C call.
    wandb_err code() const noexcept
    {
        return code_;
    }
    // The library's message for the call ("" when it gave none).
    const std::string &detail() const noexcept
    {
        return detail_;
    }

  private:
    static std::string s_text(wandb_err code, const std::string &where, const char *detail)
    {
        std::string text = where + ": " + wandb_strerror(code);
        if (detail && *detail)
            text += std::string(" (") + detail + ")";
        return text;
    }
    wandb_err code_;
    std::string detail_;
};

namespace detail
{

// The last warning of this thread and a counter of them: trivially
// destructible, so reading the counter around a C call costs one load.
inline thread_local unsigned t_seq;
inline thread_local char t_text[1024];

struct Hook {
    std::atomic<wandb_logger_fn> fn{nullptr}; // the user's logger (NULL: stderr)
    std::atomic<void *> arg{nullptr};
    std::atomic<int> rank{-1}; // in the stderr prefix, as the library's default
    bool installed = false;
};
inline Hook g_hook;

inline void forward(void *, wandb_log_level level, const char *msg)
{
    if (level <= WANDB_LOG_WARN) {
        std::snprintf(t_text, sizeof t_text, "%s", msg);
        t_seq++;
    }
    int rank = g_hook.rank.load(std::memory_order_relaxed);
    if (wandb_logger_fn fn = g_hook.fn.load())
        fn(g_hook.arg.load(), level, msg);
    else if (rank >= 0)
        std::fprintf(stderr, "wandb[rank %d]: %s\n", rank, msg);
    else
        std::fprintf(stderr, "wandb: %s\n", msg);
}

inline void install_hook()
{
    if (!g_hook.installed) {
        wandb_set_logger(forward, nullptr);
        g_hook.installed = true;
    }
}

// Throws the error of a C call that returned err; seq: t_seq before the call.
[[noreturn]] inline void fail(wandb_err err, const char *where, unsigned seq)
{
    throw Error(err, where, t_seq != seq ? t_text : nullptr);
}

inline std::string str(const char *s)
{
    return s ? std::string(s) : std::string();
}

// A string the library allocated (wandb_free), copied; "" for NULL.
inline std::string take(char *s)
{
    std::string text;
    try {
        text = str(s);
    } catch (...) {
        wandb_free(s);
        throw;
    }
    wandb_free(s);
    return text;
}

} // namespace detail

// Sets the logger of the library's own messages (NULL: stderr, prefixed
// "wandb: " or "wandb[rank N]: "). Call before wandb::init, as wandb_set_logger.
inline void set_logger(wandb_logger_fn fn, void *arg)
{
    detail::g_hook.arg.store(arg);
    detail::g_hook.fn.store(fn);
    detail::install_hook();
}

// ---------------------------------------------------------------------------
// Values.

// A JSON text as a value (nested config, lists): Value("opt", Json("{...}")).
struct Json {
    explicit Json(const char *json) noexcept : text(json)
    {
    }
    explicit Json(const std::string &json) noexcept : text(json.c_str())
    {
    }
    const char *text;
};

// One key and its value, built on the stack: {"loss", 0.5}, {"epoch", 3},
// {"done", true}, {"phase", "train"}, {"opt", Json("{\"name\": \"sgd\"}")}.
// Key and strings are borrowed until the call that takes the value returns.
// Unsigned integers above INT64_MAX are sent as doubles.
class Value
{
  public:
    template <class T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
    Value(const char *key, T v) noexcept : v_(wandb_double(key, static_cast<double>(v)))
    {
    }
    template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
    Value(const char *key, T v) noexcept : v_(s_integer(key, v))
    {
    }
    Value(const char *key, bool v) noexcept : v_(wandb_bool(key, v))
    {
    }
    Value(const char *key, const char *v) noexcept : v_(wandb_string(key, v))
    {
    }
    Value(const char *key, const std::string &v) noexcept : v_(wandb_string(key, v.c_str()))
    {
    }
    Value(const char *key, Json v) noexcept : v_(wandb_json(key, v.text))
    {
    }
    const wandb_value_t &c() const noexcept
    {
        return v_;
    }

  private:
    template <class T> static wandb_value_t s_integer(const char *key, T v) noexcept
    {
        if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(int64_t)) {
            if (v > static_cast<T>(INT64_MAX))
                return wandb_double(key, static_cast<double>(v));
        }
        return wandb_int(key, static_cast<int64_t>(v));
    }
    wandb_value_t v_;
};

// ---------------------------------------------------------------------------
// Settings: wandb_settings_t, owned. Move-only.

class Settings
{
  public:
    Settings()
    {
        wandb_err err = wandb_settings_new(&s_);
        if (err != WANDB_OK)
            throw Error(err, "wandb::Settings");
    }
    ~Settings()
    {
        wandb_settings_destroy(&s_);
    }
    Settings(Settings &&other) noexcept : s_(std::exchange(other.s_, nullptr))
    {
    }
    Settings &operator=(Settings &&other) noexcept
    {
        if (this != &other) {
            wandb_settings_destroy(&s_);
            s_ = std::exchange(other.s_, nullptr);
        }
        return *this;
    }
    Settings(const Settings &) = delete;
    Settings &operator=(const Settings &) = delete;

    // Sets a setting (names: wandb.h, docs/settings.md). Error: which and why.
    Settings &set(const char *name, const char *value)
    {
        wandb_err err = wandb_settings_set(s_, name, value);
        if (err != WANDB_OK)
            throw Error(err, std::string("wandb::Settings::set ") + (name ? name : "(null)"),
                        wandb_settings_errmsg(s_));
        return *this;
    }
    Settings &set(const char *name, const std::string &value)
    {
        return set(name, value.c_str());
    }
    template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
    Settings &set(const char *name, T value)
    {
        return set(name, std::to_string(value));
    }
    // Merges a JSON object into the initial config.
    Settings &config_json(const char *json)
    {
        wandb_err err = wandb_settings_config_json(s_, json);
        if (err != WANDB_OK)
            throw Error(err, "wandb::Settings::config_json", wandb_settings_errmsg(s_));
        return *this;
    }
    // The setting as set here or in the environment; NULL when neither has it.
    // Borrowed: valid until the setting changes.
    const char *get(const char *name) const noexcept
    {
        return wandb_settings_get(s_, name);
    }
    wandb_settings_t *handle() const noexcept
    {
        return s_;
    }

  private:
    wandb_settings_t *s_ = nullptr;
};

namespace detail
{
// The rank of the stderr prefix, from the settings of a run that started,
// else from the launcher's variables (the library's order, src/logger/settings.c).
inline void set_rank(const Settings &settings) noexcept
{
    const char *rank = settings.get("rank");
    for (const char *var : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"})
        if (!rank)
            rank = std::getenv(var);
    if (rank && *rank >= '0' && *rank <= '9')
        g_hook.rank.store(static_cast<int>(std::strtol(rank, nullptr, 10)));
}
} // namespace detail

// ---------------------------------------------------------------------------
// Run: the active run of this process, finished when the object goes away.

class Run
{
  public:
    // How the run ends: wandb_finish, or wandb_mpi_finish (wandb_mpi.hpp).
    using finish_fn = wandb_err (*)(wandb_run_t **, int);

    // No run.
    Run() noexcept = default;
    // Starts the run (wandb_init): wandb::init(settings) says the same.
    explicit Run(Settings &settings)
    {
        detail::install_hook();
        wandb_err err = wandb_init(settings.handle(), &run_);
        if (err != WANDB_OK)
            throw Error(err, "wandb::init", wandb_settings_errmsg(settings.handle()));
        detail::set_rank(settings);
    }
    // Takes over a run started by the C API; finish ends it.
    static Run adopt(wandb_run_t *run, finish_fn finish = wandb_finish) noexcept
    {
        Run r;
        r.run_ = run;
        r.finish_ = finish;
        return r;
    }
    // Finishes the run: exit code 1 (failed) during stack unwinding, else 0.
    ~Run()
    {
        if (run_)
            (void)finish_(&run_, std::uncaught_exceptions() > uncaught_ ? 1 : 0);
    }
    Run(Run &&other) noexcept : run_(std::exchange(other.run_, nullptr)), finish_(other.finish_)
    {
    }
    // Finishes the run held here (exit code 0), then takes other's.
    Run &operator=(Run &&other) noexcept
    {
        if (this != &other) {
            if (run_)
                (void)finish_(&run_, 0);
            run_ = std::exchange(other.run_, nullptr);
            finish_ = other.finish_;
        }
        return *this;
    }
    Run(const Run &) = delete;
    Run &operator=(const Run &) = delete;

    // Whether a run is held (not finished, not moved from).
    explicit operator bool() const noexcept
    {
        return run_ != nullptr;
    }
    wandb_run_t *handle() const noexcept
    {
        return run_;
    }

    // One history row at the current step: run.log({{"loss", l}, {"acc", a}}).
    // Returns false when it was dropped because the ring was full (counted
    // in dropped()); throws for everything else. No allocation for numbers,
    // booleans and strings.
    template <std::size_t N> bool log(const Value (&values)[N])
    {
        return log_values(values, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO);
    }
    // At an explicit step (lower than the current one: Error WANDB_ESTEP).
    template <std::size_t N> bool log(int64_t step, const Value (&values)[N])
    {
        return log_values(values, step, WANDB_COMMIT_AUTO);
    }
    // Adds to the pending row without committing it (commit=false).
    template <std::size_t N> bool log_partial(const Value (&values)[N])
    {
        return log_values(values, WANDB_STEP_AUTO, WANDB_COMMIT_FALSE);
    }
    // The seed's log(data, step, commit) in full (WANDB_STEP_AUTO, WANDB_COMMIT_*).
    template <std::size_t N> bool log_values(const Value (&values)[N], int64_t step, int commit)
    {
        wandb_value_t raw[N];
        for (std::size_t i = 0; i < N; i++)
            raw[i] = values[i].c();
        return log_raw(raw, N, step, commit);
    }
    // The C form, for values built elsewhere.
    bool log_raw(const wandb_value_t *values, std::size_t n, int64_t step, int commit)
    {
        unsigned seq = detail::t_seq;
        wandb_err err = wandb_log_values(live("wandb::Run::log"), values, n, step, commit);
        if (err == WANDB_OK)
            return true;
        if (err == WANDB_EFULL)
            return false;
        detail::fail(err, "wandb::Run::log", seq);
    }

    // Updates the config: run.config({{"lr", 0.01}, {"opt", Json("{...}")}}).
    template <std::size_t N> void config(const Value (&values)[N])
    {
        wandb_value_t raw[N];
        for (std::size_t i = 0; i < N; i++)
            raw[i] = values[i].c();
        const char *where = "wandb::Run::config";
        unsigned seq = detail::t_seq;
        check(wandb_config_values(live(where), raw, N), where, seq);
    }
    // Merges a JSON object into the config.
    void config_json(const char *json)
    {
        const char *where = "wandb::Run::config_json";
        unsigned seq = detail::t_seq;
        check(wandb_config_json(live(where), json), where, seq);
    }
    // Sets summary values (they win over the last logged value of the key).
    template <std::size_t N> void summary(const Value (&values)[N])
    {
        wandb_value_t raw[N];
        for (std::size_t i = 0; i < N; i++)
            raw[i] = values[i].c();
        const char *where = "wandb::Run::summary";
        unsigned seq = detail::t_seq;
        check(wandb_summary_values(live(where), raw, N), where, seq);
    }
    // wandb_define_metric: step_metric, summary ("min,max,mean,best,first,last,
    // none"), goal ("minimize"/"maximize"), flags WANDB_METRIC_*; NULL: default.
    void define_metric(const char *name, const char *step_metric = nullptr,
                       const char *summary = nullptr, const char *goal = nullptr,
                       unsigned flags = 0)
    {
        const char *where = "wandb::Run::define_metric";
        unsigned seq = detail::t_seq;
        check(wandb_define_metric(live(where), name, step_metric, summary, goal, flags), where,
              seq);
    }
    // wandb_define_reduce: how the job run reduces name across ranks.
    void define_reduce(const char *name, const char *reduce)
    {
        const char *where = "wandb::Run::define_reduce";
        unsigned seq = detail::t_seq;
        check(wandb_define_reduce(live(where), name, reduce), where, seq);
    }
    // wandb_alert: level "INFO", "WARN", "ERROR" (NULL: INFO); wait_ms < 0: 60000.
    void alert(const char *title, const char *text, const char *level = nullptr,
               int64_t wait_ms = -1)
    {
        const char *where = "wandb::Run::alert";
        unsigned seq = detail::t_seq;
        check(wandb_alert(live(where), title, text, level, wait_ms), where, seq);
    }
    // wandb_save: uploads the files the glob matches, named after base_path.
    void save(const char *path, const char *base_path = nullptr,
              wandb_save_policy policy = WANDB_SAVE_NOW)
    {
        const char *where = "wandb::Run::save";
        unsigned seq = detail::t_seq;
        check(wandb_save(live(where), path, base_path, policy), where, seq);
    }
    void save(const std::string &path, const std::string &base_path,
              wandb_save_policy policy = WANDB_SAVE_NOW)
    {
        save(path.c_str(), base_path.c_str(), policy);
    }
    // wandb_mark_preempting: the end is shown as preempted, not crashed.
    void mark_preempting()
    {
        const char *where = "wandb::Run::mark_preempting";
        unsigned seq = detail::t_seq;
        check(wandb_mark_preempting(live(where)), where, seq);
    }
    // Finishes the run now (0: finished, otherwise failed). The run is gone
    // afterwards even when this throws (WANDB_ETIMEDOUT: data not handed over).
    void finish(int exit_code = 0)
    {
        const char *where = "wandb::Run::finish";
        wandb_run_t *run = live(where);
        unsigned seq = detail::t_seq;
        wandb_err err = finish_(&run, exit_code);
        run_ = nullptr;
        check(err, where, seq);
    }

    // Properties (the seed's attributes). Strings are copies ("" for none).
#define WANDB_HPP_GET(type, method, expr)                                                          \
    type method() const                                                                            \
    {                                                                                              \
        wandb_run_t *run = live("wandb::Run::" #method);                                           \
        return expr;                                                                               \
    }
    WANDB_HPP_GET(std::string, id, detail::str(wandb_run_id(run)))
    WANDB_HPP_GET(std::string, name, detail::str(wandb_run_name(run)))
    WANDB_HPP_GET(std::string, notes, detail::str(wandb_run_notes(run)))
    WANDB_HPP_GET(std::string, tags, detail::str(wandb_run_tags(run))) // comma-separated
    WANDB_HPP_GET(std::string, group, detail::str(wandb_run_group(run)))
    WANDB_HPP_GET(std::string, job_type, detail::str(wandb_run_job_type(run)))
    WANDB_HPP_GET(std::string, project, detail::str(wandb_run_project(run)))
    WANDB_HPP_GET(std::string, project_name, detail::str(wandb_run_project_name(run)))
    WANDB_HPP_GET(std::string, entity, detail::str(wandb_run_entity(run)))
    WANDB_HPP_GET(std::string, path, detail::str(wandb_run_path(run)))
    WANDB_HPP_GET(std::string, dir, detail::str(wandb_run_dir(run)))
    WANDB_HPP_GET(std::string, mode, detail::str(wandb_run_mode(run)))
    WANDB_HPP_GET(std::string, sweep_id, detail::str(wandb_run_sweep_id(run)))
    WANDB_HPP_GET(std::string, url, detail::str(wandb_run_url(run)))
    WANDB_HPP_GET(std::string, get_url, detail::str(wandb_run_get_url(run)))
    WANDB_HPP_GET(std::string, get_project_url, detail::str(wandb_run_get_project_url(run)))
    WANDB_HPP_GET(std::string, get_sweep_url, detail::str(wandb_run_get_sweep_url(run)))
    WANDB_HPP_GET(bool, resumed, wandb_run_resumed(run))
    WANDB_HPP_GET(int64_t, step, wandb_run_step(run))
    WANDB_HPP_GET(int64_t, starting_step, wandb_run_starting_step(run))
    WANDB_HPP_GET(double, start_time, wandb_run_start_time(run))
    WANDB_HPP_GET(uint64_t, rejected_steps, wandb_run_rejected_steps(run))
    WANDB_HPP_GET(uint64_t, dropped, wandb_run_dropped(run))
    // run.summary and run.config read back, as JSON object texts.
    WANDB_HPP_GET(std::string, summary_json, detail::take(wandb_run_summary_json(run)))
    WANDB_HPP_GET(std::string, read_config_json, detail::take(wandb_run_config_json(run)))
#undef WANDB_HPP_GET
    // The seed's run.settings: a resolved setting as text ("" when unset).
    std::string setting(const char *name) const
    {
        return detail::str(wandb_run_setting(live("wandb::Run::setting"), name));
    }
    // The seed's to_html(height, hidden): an iframe of the run page ("" before a URL).
    std::string to_html(int height = 420, bool hidden = false) const
    {
        return detail::take(wandb_run_to_html(live("wandb::Run::to_html"), height, hidden));
    }
    // The seed's status(): what was sent and acknowledged, pending rows.
    wandb_run_status_t status() const
    {
        const char *where = "wandb::Run::status";
        wandb_run_status_t st{};
        unsigned seq = detail::t_seq;
        check(wandb_run_status(live(where), &st), where, seq);
        return st;
    }
    // Name, notes and tags (comma-separated) while the run lives (an upsert).
    void set_name(const char *name)
    {
        const char *where = "wandb::Run::set_name";
        unsigned seq = detail::t_seq;
        check(wandb_run_set_name(live(where), name), where, seq);
    }
    void set_notes(const char *notes)
    {
        const char *where = "wandb::Run::set_notes";
        unsigned seq = detail::t_seq;
        check(wandb_run_set_notes(live(where), notes), where, seq);
    }
    void set_tags(const char *tags)
    {
        const char *where = "wandb::Run::set_tags";
        unsigned seq = detail::t_seq;
        check(wandb_run_set_tags(live(where), tags), where, seq);
    }
    // The seed's restore(name, run_path, replace, root): returns the local path.
    std::string restore(const char *name, const char *run_path = nullptr, bool replace = false,
                        const char *root = nullptr)
    {
        const char *where = "wandb::Run::restore";
        char path[4096];
        unsigned seq = detail::t_seq;
        check(wandb_restore(live(where), name, run_path, replace, root, path, sizeof path), where,
              seq);
        return path;
    }

  private:
    // The run, or Error WANDB_ECLOSED when it has finished or was moved from.
    wandb_run_t *live(const char *where) const
    {
        if (!run_)
            throw Error(WANDB_ECLOSED, where, "the run has finished or was moved from");
        return run_;
    }
    static void check(wandb_err err, const char *where, unsigned seq)
    {
        if (err != WANDB_OK)
            detail::fail(err, where, seq);
    }
    wandb_run_t *run_ = nullptr;
    finish_fn finish_ = wandb_finish;
    int uncaught_ = std::uncaught_exceptions(); // at construction: this scope's own
};

// The seed's wandb.init(): starts the run of this process.
inline Run init(Settings &settings)
{
    return Run(settings);
}
// All settings from the environment.
inline Run init()
{
    Settings settings;
    return Run(settings);
}

} // namespace wandb

#endif
