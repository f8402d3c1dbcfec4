"The one star-import for users: fastai's data, learner, metrics, callbacks and interpretation names, and fastaudio_lite's."
from fastai.basics import *
from fastai.callback.all import *
from fastai.interpret import *
from fastai.vision.models import *
from fastai.vision.learner import vision_learner, create_timm_model

from fastaudio_lite.errors import *
from fastaudio_lite.decode import *
from fastaudio_lite.events import *
from fastaudio_lite.core import *
from fastaudio_lite.runtime import *
from fastaudio_lite.data import *
from fastaudio_lite.spectrogram import *
from fastaudio_lite.audioset import *
from fastaudio_lite.augment import *
from fastaudio_lite.models import *
from fastaudio_lite.nets import *
from fastaudio_lite.learner import *
from fastaudio_lite.callbacks import *
from fastaudio_lite.inference import *
from fastaudio_lite.export import *
from fastaudio_lite.safe import *
from fastaudio_lite.datasets import *
from fastaudio_lite.recipes import *
from fastaudio_lite.embed import *
from fastaudio_lite.dataloaders import *
from fastaudio_lite.heads import *
