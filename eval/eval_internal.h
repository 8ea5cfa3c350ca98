/* Private helpers of the eval module. */
#ifndef JF_EVAL_INTERNAL_H
#define JF_EVAL_INTERNAL_H

#include "jf_eval.h"

#endif
