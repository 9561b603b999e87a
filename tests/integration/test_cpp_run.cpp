//  test_cpp_run.cpp - wandb::Run (include/wandb.hpp) into the real wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Starts <build>/src/server/wandb-mpi-server (or $WANDB_MPI_SERVER) on an
//  ephemeral port, logs through wandb::Run with the in-process aggregator
//  and reads back what the server stored: rows, config, summary, the state a
//  scope's end gives the run (finished; failed when an exception left it),
//  the errors bad input raises with their text, and that the scalar log path
//  allocates nothing on the C++ side. Built as C++17 (test_cpp_run) and C++20
//  (test_cpp_run_cxx20). Exits 77 (CTest: skipped) when the server is not built.
//  testutil.h is C11, so the checks here are their own: a failed check prints
//  file:line and exits 1; each case is bounded by alarm().
#include "wandb.hpp"
#include "wandb_media.h"

extern "C" {
#include "harness/server_harness.h"
}

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unistd.h>

#define S_KEY "local-abcdefghijabcdefghijabcdefghijabcdefghij"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);          \
            std::exit(1);                                                                          \
        }                                                                                          \
    } while (0)

// Runs stmt and checks that it throws wandb::Error with code; e is the error.
#define CHECK_THROWS(stmt, want, e)                                                                \
    do {                                                                                           \
        bool thrown_ = false;                                                                      \
        try {                                                                                      \
            stmt;                                                                                  \
        } catch (const wandb::Error &err_) {                                                       \
            thrown_ = true;                                                                        \
            e = err_;                                                                              \
        }                                                                                          \
        if (!thrown_ || e.code() != (want)) {                                                      \
            std::fprintf(stderr, "%s:%d: %s: want wandb::Error %s, got %s\n", __FILE__, __LINE__,  \
                         #stmt, wandb_strerror(want), thrown_ ? e.what() : "no exception");        \
            std::exit(1);                                                                          \
        }                                                                                          \
    } while (0)

static wbt_server_t s_srv;

// Counts operator new in the thread that sets t_counting: the scalar log path
// must not allocate. (Other threads do: libzmq, in C++, allocates with new.)
static thread_local bool t_counting;
static std::atomic<long> s_news{0};

// Every form of new and delete that the program and its libraries (libzmq is
// C++) may call is replaced, so that allocation and release always pair up
// (ASan checks that they do).
static void *s_alloc(std::size_t n) noexcept
{
    if (t_counting)
        s_news++;
    return std::malloc(n ? n : 1);
}

void *operator new(std::size_t n)
{
    if (void *p = s_alloc(n))
        return p;
    throw std::bad_alloc();
}
void *operator new[](std::size_t n)
{
    if (void *p = s_alloc(n))
        return p;
    throw std::bad_alloc();
}
void *operator new(std::size_t n, const std::nothrow_t &) noexcept
{
    return s_alloc(n);
}
void *operator new[](std::size_t n, const std::nothrow_t &) noexcept
{
    return s_alloc(n);
}
void operator delete(void *p) noexcept
{
    std::free(p);
}
void operator delete[](void *p) noexcept
{
    std::free(p);
}
void operator delete(void *p, std::size_t) noexcept
{
    std::free(p);
}
void operator delete[](void *p, std::size_t) noexcept
{
    std::free(p);
}
void operator delete(void *p, const std::nothrow_t &) noexcept
{
    std::free(p);
}
void operator delete[](void *p, const std::nothrow_t &) noexcept
{
    std::free(p);
}

static_assert(!std::is_copy_constructible_v<wandb::Run>, "Run is move-only");
static_assert(!std::is_copy_assignable_v<wandb::Run>, "Run is move-only");
static_assert(std::is_nothrow_move_constructible_v<wandb::Run>, "Run moves without throwing");
static_assert(std::is_nothrow_move_assignable_v<wandb::Run>, "Run moves without throwing");
static_assert(std::is_base_of_v<std::runtime_error, wandb::Error>, "Error is a runtime_error");

// Settings for a run into the test server, without an aggregator endpoint.
static wandb::Settings s_settings(const char *run_id)
{
    wbt_run_env_clear();
    wandb::Settings s;
    s.set("base_url", s_srv.url)
        .set("api_key", S_KEY)
        .set("project", "cppproj")
        .set("run_id", run_id)
        .set("flush_interval_ms", 50)
        .set("finish_timeout_ms", std::string("20000"))
        .config_json("{\"lr\": 0.1}");
    return s;
}

// The server's view of run id (a new reference).
static json_t *s_run(const char *id)
{
    char path[256];
    std::snprintf(path, sizeof path, "/api/v1/runs/%s?project=cppproj", id);
    return wbt_http_get(&s_srv, path);
}

static const char *s_str(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static double s_num(json_t *v)
{
    CHECK(json_is_number(v));
    return json_number_value(v);
}

static int s_evals;
static double s_counted(double v)
{
    s_evals++;
    return v;
}

// Rows, config and summary logged through wandb::Run and through the C
// macros in C++ arrive as sent; the end of the scope finishes the run.
static void test_log_into_server()
{
    {
        wandb::Settings s = s_settings("cpp-1");
        wandb::Run run = wandb::init(s);
        CHECK(run);
        CHECK(run.id() == "cpp-1" && run.project() == "cppproj");
        run.config({{"batch", 32}, {"arch", "mlp"}, {"opt", wandb::Json("{\"name\": \"adam\"}")}});
        run.define_metric("acc", nullptr, "max", "maximize");
        for (int k = 0; k < 20; k++) {
            bool stored = run.log({{"loss", k + 0.5},
                                   {"acc", k / 20.0},
                                   {"epoch", k / 10},
                                   {"even", k % 2 == 0},
                                   {"phase", std::string(k < 10 ? "warm" : "main")}});
            CHECK(stored);
        }
        CHECK(run.step() == 20);
        // An explicit step accumulates until a call without step commits.
        CHECK(run.log(25, {{"loss", 99.0}, {"big", 18446744073709551615ull}}));
        CHECK(run.step() == 25);
        CHECK(run.log_partial({{"part", 1}}));
        CHECK(run.log({{"other", 7.0f}}));
        CHECK(run.step() == 26);
        // The C macros compile as C++ and evaluate each argument once.
        CHECK(wandb_log(run.handle(), WANDB_DOUBLE("loss", s_counted(3.0)), WANDB_INT("k", 5),
                        WANDB_BOOL("c", true), WANDB_STRING("from", "c")) == WANDB_OK);
        CHECK(s_evals == 1);
        CHECK(wandb_summary_update(run.handle(), WANDB_STRING("via", "macro")) == WANDB_OK);
        run.summary({{"best", 0.5}, {"note", "done"}});
        CHECK(run.step() == 27);
        // The attributes and setters of the seed, read back here and on the server.
        run.set_notes("from C++");
        run.set_tags("cpp,test");
        CHECK(run.notes() == "from C++" && run.tags() == "cpp,test");
        CHECK(run.mode() == "online" && !run.resumed() && run.sweep_id().empty());
        CHECK(run.setting("project") == "cppproj" && run.setting("api_key").empty());
        CHECK(!run.dir().empty() && run.project_name() == "cppproj");
        CHECK(std::strstr(run.summary_json().c_str(), "\"best\": 0.5") != nullptr ||
              std::strstr(run.summary_json().c_str(), "\"best\":0.5") != nullptr);
        CHECK(std::strstr(run.read_config_json().c_str(), "\"batch\"") != nullptr);
        wandb_run_status_t st = run.status();
        CHECK(!st.finished && st.dropped == 0);
    } // ~Run: finished, exit code 0

    json_t *r = s_run("cpp-1");
    CHECK(std::strcmp(s_str(r, "state"), "finished") == 0);
    CHECK(json_integer_value(json_object_get(r, "exit_code")) == 0);
    CHECK(json_integer_value(json_object_get(r, "history_count")) == 22);
    CHECK(std::strcmp(s_str(r, "notes"), "from C++") == 0);
    CHECK(json_array_size(json_object_get(r, "tags")) == 2);
    json_t *cfg = json_object_get(r, "config");
    CHECK(json_integer_value(json_object_get(cfg, "batch")) == 32);
    CHECK(std::strcmp(s_str(cfg, "arch"), "mlp") == 0);
    CHECK(std::strcmp(s_str(json_object_get(cfg, "opt"), "name"), "adam") == 0);
    CHECK(s_num(json_object_get(cfg, "lr")) == 0.1);
    json_t *sum = json_object_get(r, "summary");
    CHECK(s_num(json_object_get(sum, "best")) == 0.5);
    CHECK(std::strcmp(s_str(sum, "note"), "done") == 0);
    CHECK(std::strcmp(s_str(sum, "via"), "macro") == 0);
    CHECK(s_num(json_object_get(json_object_get(sum, "acc"), "max")) == 19 / 20.0);
    json_decref(r);

    json_t *hist = wbt_http_get(&s_srv, "/api/v1/runs/cpp-1/history?project=cppproj");
    json_t *rows = json_object_get(hist, "rows");
    CHECK(json_array_size(rows) == 22);
    for (size_t k = 0; k < 20; k++) {
        json_t *row = json_array_get(rows, k);
        CHECK(json_integer_value(json_object_get(row, "_step")) == (json_int_t)k);
        CHECK(s_num(json_object_get(row, "loss")) == (double)k + 0.5);
        CHECK(s_num(json_object_get(row, "acc")) == (double)k / 20.0);
        CHECK(json_integer_value(json_object_get(row, "epoch")) == (json_int_t)k / 10);
        CHECK(json_is_boolean(json_object_get(row, "even")));
        CHECK(json_is_true(json_object_get(row, "even")) == (k % 2 == 0));
        CHECK(std::strcmp(s_str(row, "phase"), k < 10 ? "warm" : "main") == 0);
    }
    json_t *row = json_array_get(rows, 20);
    CHECK(json_integer_value(json_object_get(row, "_step")) == 25);
    CHECK(s_num(json_object_get(row, "loss")) == 99.0);
    CHECK(s_num(json_object_get(row, "big")) == 18446744073709551615.0);
    CHECK(json_integer_value(json_object_get(row, "part")) == 1);
    CHECK(s_num(json_object_get(row, "other")) == 7.0);
    row = json_array_get(rows, 21); // the row of the C macros
    CHECK(json_integer_value(json_object_get(row, "_step")) == 26);
    CHECK(s_num(json_object_get(row, "loss")) == 3.0);
    CHECK(json_integer_value(json_object_get(row, "k")) == 5);
    CHECK(json_is_true(json_object_get(row, "c")));
    CHECK(std::strcmp(s_str(row, "from"), "c") == 0);
    json_decref(hist);
}

// An exception that leaves the scope finishes the run as failed (exit code 1).
static void test_exception_fails_run()
{
    bool caught = false;
    try {
        wandb::Settings s = s_settings("cpp-2");
        wandb::Run run = wandb::init(s);
        run.log({{"loss", 1.0}});
        run.log({{"loss", 2.0}});
        throw std::runtime_error("training diverged");
    } catch (const std::runtime_error &e) {
        caught = std::strcmp(e.what(), "training diverged") == 0;
    }
    CHECK(caught);
    json_t *r = s_run("cpp-2");
    CHECK(std::strcmp(s_str(r, "state"), "failed") == 0);
    CHECK(json_integer_value(json_object_get(r, "exit_code")) == 1);
    CHECK(json_integer_value(json_object_get(r, "history_count")) == 2);
    json_decref(r);
}

// A Run destroyed while an older exception is in flight (from a catch
// block) but not by it ends finished: only its own scope's unwinding counts.
static void test_scope_inside_catch_finishes()
{
    try {
        throw std::runtime_error("earlier");
    } catch (const std::exception &) {
        wandb::Settings s = s_settings("cpp-3");
        wandb::Run run = wandb::init(s);
        run.log({{"x", 1}});
    }
    json_t *r = s_run("cpp-3");
    CHECK(std::strcmp(s_str(r, "state"), "finished") == 0);
    json_decref(r);
}

// Bad input raises wandb::Error with the code, the call, the words of
// wandb_strerror and the library's message; the run goes on and keeps what
// was accepted; a finished or moved-from Run raises WANDB_ECLOSED.
static void test_errors_with_text()
{
    wandb::Error e(WANDB_OK, "");
    wandb::Settings bad;
    CHECK_THROWS(bad.set("no_such_setting", "1"), WANDB_EINVAL, e);
    CHECK(std::strstr(e.what(), "wandb::Settings::set no_such_setting") != nullptr);
    CHECK(std::strstr(e.what(), "no_such_setting") != nullptr && !e.detail().empty());

    wandb::Settings s = s_settings("cpp-4");
    wandb::Run run = wandb::init(s);
    CHECK(run.log({{"loss", 1.0}}));
    wandb::Settings s2 = s_settings("cpp-5"); // a second run while one is active
    CHECK_THROWS(wandb::init(s2), WANDB_EEXIST, e);
    CHECK(std::strstr(e.what(), "wandb::init: ") == e.what());
    CHECK_THROWS(run.log({{"", 1.0}}), WANDB_EINVAL, e);
    CHECK(std::strstr(e.what(), "wandb::Run::log: ") == e.what());
    CHECK(std::strstr(e.what(), wandb_strerror(WANDB_EINVAL)) != nullptr);
    CHECK(std::strstr(e.detail().c_str(), "invalid key") != nullptr);
    CHECK_THROWS(run.log({{"s", static_cast<const char *>(nullptr)}}), WANDB_EINVAL, e);
    CHECK(std::strstr(e.detail().c_str(), "NULL string") != nullptr);
    CHECK_THROWS(run.log({{"j", wandb::Json("{not json")}}), WANDB_EINVAL, e);
    CHECK(std::strstr(e.detail().c_str(), "not JSON") != nullptr);
    CHECK_THROWS(run.log(0, {{"loss", 5.0}}), WANDB_ESTEP, e);
    CHECK_THROWS(run.define_metric("loss", nullptr, nullptr, "sideways"), WANDB_EINVAL, e);
    CHECK(std::strstr(e.detail().c_str(), "invalid goal 'sideways'") != nullptr);
    CHECK_THROWS(run.alert(std::string(64, 't').c_str(), "text"), WANDB_EINVAL, e);
    CHECK(std::strstr(e.what(), "wandb::Run::alert") != nullptr);
    CHECK_THROWS(run.save("/nonexistent/cpp-test-file.txt"), WANDB_ENOTFOUND, e);
    CHECK(std::strstr(e.what(), "wandb::Run::save") != nullptr);
    CHECK_THROWS(run.config_json("[1, 2]"), WANDB_EINVAL, e);
    CHECK(run.log({{"loss", 2.0}}));
    run.finish(0);
    CHECK(!run);
    CHECK_THROWS(run.log({{"loss", 3.0}}), WANDB_ECLOSED, e);
    CHECK(std::strstr(e.what(), "finished") != nullptr);
    CHECK_THROWS((void)run.id(), WANDB_ECLOSED, e);
    CHECK_THROWS(run.finish(), WANDB_ECLOSED, e);

    json_t *r = s_run("cpp-4");
    CHECK(std::strcmp(s_str(r, "state"), "finished") == 0);
    CHECK(json_integer_value(json_object_get(r, "history_count")) == 2);
    json_decref(r);
}

// wandb::set_logger receives the library's messages (from the calling thread
// here) while wandb::Error still carries them.
struct Captured {
    int count = 0;
    char last[512] = "";
};

static void s_capture(void *arg, wandb_log_level level, const char *msg)
{
    auto *c = static_cast<Captured *>(arg);
    if (level <= WANDB_LOG_WARN && std::strstr(msg, "wandb_log") != nullptr) {
        c->count++;
        std::snprintf(c->last, sizeof c->last, "%s", msg);
    }
}

static void test_set_logger()
{
    static Captured captured;
    wandb::set_logger(s_capture, &captured);
    wandb::Settings s = s_settings("cpp-8");
    wandb::Run run = wandb::init(s);
    wandb::Error e(WANDB_OK, "");
    CHECK_THROWS(run.log({{"", 1.0}}), WANDB_EINVAL, e);
    CHECK(captured.count == 1 && std::strstr(captured.last, "invalid key") != nullptr);
    CHECK(e.detail() == captured.last);
    CHECK(run.log({{"ok", 1.0}}));
    run.finish();
    wandb::set_logger(nullptr, nullptr);
    CHECK(captured.count == 1);
}

// A Run moves (into a function, out of one); the moved-from object is empty
// and only the last owner finishes the run, once.
static wandb::Run s_start(const char *id)
{
    wandb::Settings s = s_settings(id);
    wandb::Run run = wandb::init(s);
    run.log({{"where", "start"}});
    return run;
}

static void s_consume(wandb::Run run)
{
    run.log({{"where", "consume"}});
} // finishes

static void test_move_only()
{
    wandb::Run a = s_start("cpp-6");
    CHECK(a && a.id() == "cpp-6");
    wandb::Run b = std::move(a);
    CHECK(!a && b);
    wandb::Error e(WANDB_OK, "");
    CHECK_THROWS(a.log({{"x", 1}}), WANDB_ECLOSED, e);
    wandb::Run c;
    c = std::move(b);
    CHECK(!b && c);
    s_consume(std::move(c));
    CHECK(!c && wandb_run() == nullptr);
    json_t *r = s_run("cpp-6");
    CHECK(std::strcmp(s_str(r, "state"), "finished") == 0);
    CHECK(json_integer_value(json_object_get(r, "history_count")) == 2);
    json_decref(r);
}

// The scalar path (numbers, booleans, strings) allocates nothing in C++:
// values and their array live on the stack.
static void test_log_no_allocation()
{
    wandb::Settings s = s_settings("cpp-7");
    wandb::Run run = wandb::init(s);
    run.log({{"loss", 0.0}, {"step_i", 0}, {"ok", true}, {"tag", "x"}}); // keys interned
    const int n = 2000;
    s_news = 0;
    t_counting = true;
    for (int k = 1; k <= n; k++)
        CHECK(run.log({{"loss", k * 0.5}, {"step_i", k}, {"ok", k % 2 == 0}, {"tag", "x"}}));
    t_counting = false;
    CHECK(s_news.load() == 0);
    run.finish();
    json_t *r = s_run("cpp-7");
    CHECK(json_integer_value(json_object_get(r, "history_count")) == n + 1);
    json_decref(r);
}

// The media API of wandb_media.h from C++: its macros (WANDB_HISTOGRAM,
// wandb_table_row with WANDB_CELL_*) compile as C++ and what they log arrives.
static void test_media_from_cpp()
{
    wandb::Settings s = s_settings("cpp-9");
    wandb::Run run = wandb::init(s);
    double data[100];
    for (int i = 0; i < 100; i++)
        data[i] = i;
    wandb_histogram_t *h = nullptr;
    CHECK(wandb_histogram_new(&h, data, WANDB_DTYPE_FLOAT64, 100, 10) == WANDB_OK);
    CHECK(wandb_log(run.handle(), WANDB_HISTOGRAM("weights", h), WANDB_DOUBLE("loss", 0.5)) ==
          WANDB_OK);
    wandb_histogram_destroy(&h);
    const char *cols[] = {"id", "label", "ok"};
    wandb_table_t *t = nullptr;
    CHECK(wandb_table_new(&t, cols, 3) == WANDB_OK);
    CHECK(wandb_table_row(t, WANDB_CELL_INT(1), WANDB_CELL_STRING("cat"), WANDB_CELL_BOOL(true)) ==
          WANDB_OK);
    CHECK(wandb_table_row(t, WANDB_CELL_INT(2), WANDB_CELL_NULL, WANDB_CELL_BOOL(false)) ==
          WANDB_OK);
    CHECK(wandb_table_nrows(t) == 2);
    CHECK(wandb_log_table(run.handle(), "preds", t, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO) ==
          WANDB_OK);
    wandb_table_destroy(&t);
    run.finish();
    json_t *hist = wbt_http_get(&s_srv, "/api/v1/runs/cpp-9/history?project=cppproj");
    json_t *rows = json_object_get(hist, "rows");
    CHECK(json_array_size(rows) == 2);
    json_t *w = json_object_get(json_array_get(rows, 0), "weights");
    CHECK(std::strcmp(s_str(w, "_type"), "histogram") == 0);
    CHECK(json_array_size(json_object_get(w, "values")) == 10);
    CHECK(json_array_size(json_object_get(w, "bins")) == 11);
    json_t *p = json_object_get(json_array_get(rows, 1), "preds");
    CHECK(std::strcmp(s_str(p, "_type"), "table-file") == 0);
    CHECK(json_integer_value(json_object_get(p, "nrows")) == 2);
    json_decref(hist);
}

// examples/cpp_train (cpp_train_cxx20 in the C++20 build) runs into the
// server: its rows, config and summary arrive and its run is finished.
static void test_example_runs()
{
    const char *dir = std::getenv("WANDB_TEST_BIN_DIR");
    std::string bin =
        std::string(dir ? dir : ".") +
        (__cplusplus >= 202002L ? "/examples/cpp_train_cxx20" : "/examples/cpp_train");
    if (access(bin.c_str(), X_OK) != 0) {
        std::printf("  %s not built: case skipped\n", bin.c_str());
        return;
    }
    wbt_run_env_clear();
    setenv("WANDB_BASE_URL", s_srv.url, 1);
    setenv("WANDB_API_KEY", S_KEY, 1);
    setenv("WANDB_PROJECT", "cppproj", 1);
    setenv("WANDB_RUN_ID", "cpp-example", 1);
    const char *argv[] = {bin.c_str(), "40", nullptr};
    char out[256];
    int rc = wbt_run_capture(argv, out, sizeof out, 60000);
    wbt_run_env_clear();
    CHECK(rc == 0);
    json_t *r = s_run("cpp-example");
    CHECK(std::strcmp(s_str(r, "state"), "finished") == 0);
    CHECK(std::strcmp(s_str(r, "job_type"), "train") == 0);
    CHECK(json_integer_value(json_object_get(r, "history_count")) == 40);
    json_t *cfg = json_object_get(r, "config");
    CHECK(json_integer_value(json_object_get(cfg, "steps")) == 40);
    CHECK(std::strcmp(s_str(cfg, "model"), "linear") == 0);
    json_t *sum = json_object_get(r, "summary");
    CHECK(s_num(json_object_get(sum, "best_loss")) < 1.0);
    CHECK(json_is_boolean(json_object_get(sum, "converged")));
    CHECK(json_integer_value(json_object_get(sum, "epoch")) == 3);
    json_decref(r);
}

int main()
{
    char bin[1024];
    wbt_server_path(bin, sizeof bin, true);
    wbt_server_require(bin);
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_start(&s_srv, bin, NULL, extra);
    const char *t = std::getenv("WBT_CASE_TIMEOUT_S");
    unsigned timeout = t ? static_cast<unsigned>(std::strtoul(t, nullptr, 10)) : 60;
    static const struct {
        const char *name;
        void (*fn)();
    } cases[] = {{"log_into_server", test_log_into_server},
                 {"exception_fails_run", test_exception_fails_run},
                 {"scope_inside_catch_finishes", test_scope_inside_catch_finishes},
                 {"errors_with_text", test_errors_with_text},
                 {"set_logger", test_set_logger},
                 {"move_only", test_move_only},
                 {"log_no_allocation", test_log_no_allocation},
                 {"media_from_cpp", test_media_from_cpp},
                 {"example_runs", test_example_runs}};
    for (const auto &c : cases) {
        alarm(timeout); // a hanging case ends the program (SIGALRM)
        std::printf("case %s\n", c.name);
        std::fflush(stdout);
        c.fn();
        alarm(0);
    }
    std::printf("%zu passed\n", sizeof cases / sizeof cases[0]);
    wandb_shutdown();
    wbt_server_release(&s_srv);
    return 0;
}
