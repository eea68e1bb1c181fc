/* classifier_cmd.h - `ganlive classifier`: train the digit classifier of
 * nn/classifier.h, report its test accuracy and save it. */
#ifndef GANLIVE_CLASSIFIER_CMD_H
#define GANLIVE_CLASSIFIER_CMD_H

/* argv[0] is "classifier"; returns the exit status (0 done, 1 runtime
 * failure, 2 bad usage or data). */
int srv_classifier_main(int argc, char **argv);

#endif
