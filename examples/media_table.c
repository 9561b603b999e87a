//  media_table.c - a table of predictions, as the seed logs wandb.Table
//  SPDX-License-Identifier: MIT
//
//  Python:
//      run = wandb.init()
//      table = wandb.Table(columns=["id", "prediction", "truth", "confidence", "correct"])
//      for i in range(10):
//          table.add_data(i, pred[i], truth[i], conf[i], pred[i] == truth[i])
//      run.log({"predictions": table, "accuracy": acc})
//  Settings come from the environment. Exit 0 when every call succeeded.
#include "wandb.h"

#include <stdio.h>

int main(void)
{
    static const char *const labels[] = {"cat", "dog", "bird"};
    wandb_run_t *run = NULL;
    wandb_err rc = wandb_init(NULL, &run);
    if (rc != WANDB_OK) {
        fprintf(stderr, "wandb_init: %s\n", wandb_strerror(rc));
        return 1;
    }
    const char *columns[] = {"id", "prediction", "truth", "confidence", "correct"};
    wandb_table_t *table = NULL;
    rc = wandb_table_new(&table, columns, 5);
    int correct = 0;
    for (int i = 0; i < 10 && rc == WANDB_OK; i++) {
        const char *pred = labels[(i * 7) % 3];
        const char *truth = labels[i % 3];
        bool ok = pred == truth;
        correct += ok;
        rc = wandb_table_row(table, WANDB_CELL_INT(i), WANDB_CELL_STRING(pred),
                             WANDB_CELL_STRING(truth), WANDB_CELL_DOUBLE(0.5 + i / 20.0),
                             WANDB_CELL_BOOL(ok));
    }
    // The table and the accuracy in one row: the table first with commit false.
    if (rc == WANDB_OK)
        rc = wandb_log_table(run, "predictions", table, WANDB_STEP_AUTO, WANDB_COMMIT_FALSE);
    if (rc == WANDB_OK)
        rc = wandb_log(run, WANDB_DOUBLE("accuracy", correct / 10.0));
    wandb_table_destroy(&table);
    wandb_err frc = wandb_finish(&run, rc == WANDB_OK ? 0 : 1);
    if (rc != WANDB_OK || frc != WANDB_OK) {
        fprintf(stderr, "media_table: %s\n", wandb_strerror(rc != WANDB_OK ? rc : frc));
        return 1;
    }
    return 0;
}
