# ist-predict scores a model saved by ist-train with the test accuracy and loss ist-train printed
# for the file it saved (read back: the input standardisation and population statistics in it),
# from the model file and ist-train's split of the digits (--data form: same --seed).
#   cmake -DTRAIN=<ist-train> -DPREDICT=<ist-predict> -DDIR=<scratch dir> -P predict_matches_train.cmake
file(MAKE_DIRECTORY ${DIR})
set(model ${DIR}/predict_matches_train.npz)
execute_process(COMMAND ${TRAIN} --quiet --rounds 20 --save-model ${model} OUTPUT_VARIABLE trained RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ist-train failed (${rc}): ${trained}")
endif()
string(REGEX MATCH "saved [^\n]*: (test accuracy [0-9.e-]+, loss [0-9.e-]+)" _ "${trained}")
set(train_scores ${CMAKE_MATCH_1})
execute_process(COMMAND ${PREDICT} --model ${model} OUTPUT_VARIABLE predicted RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ist-predict failed (${rc}): ${predicted}")
endif()
string(REGEX MATCH "test accuracy [0-9.e-]+, loss [0-9.e-]+" predict_scores "${predicted}")
if(train_scores STREQUAL "" OR NOT train_scores STREQUAL predict_scores)
  message(FATAL_ERROR "ist-train printed '${train_scores}' for its saved model, ist-predict '${predict_scores}'")
endif()
# --precision fp32 (the default, named) prints the very same scores.
execute_process(COMMAND ${PREDICT} --model ${model} --precision fp32 OUTPUT_VARIABLE named RESULT_VARIABLE rc)
string(REGEX MATCH "test accuracy [0-9.e-]+, loss [0-9.e-]+" named_scores "${named}")
if(NOT rc EQUAL 0 OR NOT named_scores STREQUAL predict_scores)
  message(FATAL_ERROR "ist-predict --precision fp32 printed '${named_scores}' (${rc}), without it '${predict_scores}'")
endif()
# A run started from the model (--load-model) trains it further.
execute_process(COMMAND ${TRAIN} --quiet --rounds 1 --load-model ${model} OUTPUT_VARIABLE resumed RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ist-train --load-model failed (${rc}): ${resumed}")
endif()
message(STATUS "${train_scores} from both; --load-model: ${resumed}")
