# Evaluation loader shared by the dataset bases: batches of whole images,
# unshuffled, the dataset in test mode with the plain test pipeline. A dataset
# base inheriting this fills in batch_size and the dataset's own keys with
#     val_dataloader = dict(batch_size=1, dataset=dict(type=..., ...))
#     test_dataloader = val_dataloader
# (both lines: each merges into the loader of the same name here).
num_workers = 2

# ZoeLoadImage passes the dataset's image through; it is the step that
# mmseg.apis.inference_model swaps for LoadImageFromNDArray.
test_pipeline = [dict(type='ZoeLoadImage'), dict(type='PackSegInputs')]

val_dataloader = dict(
    num_workers=num_workers,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
