// k-nearest-neighbour classification on frozen features with cosine similarity (rows are
// L2-normalized; a zero row has similarity 0 to everything). Each test row takes the k most
// similar training rows (ties in similarity: the lower training index), and votes: the class with
// most neighbours wins; a tie in votes goes to the tied class with the larger summed similarity,
// then to the lower class index.
#pragma once
#include <cstdint>
#include <vector>

#include "models/downstream/labeled_features.h"

namespace rsd::downstream {

// Predictions for every row of `test`; k in [1, train.rows] (errors say so).
std::vector<int32_t> knn_predict(const LabeledFeatures& train, const LabeledFeatures& test, int classes, int k);

}  // namespace rsd::downstream
