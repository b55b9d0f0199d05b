"""The architectures of the course, as readable code. Constructors take `num_classes`, and
those torchvision publishes ImageNet weights for take `weights=` too (see .pretrained)."""
from .lenet import LeNet5, lenet5  # noqa: F401
from .alexnet import AlexNet, AlexNetPaper, alexnet, alexnet_paper  # noqa: F401
from .convnetjs import ConvNetJSCifar10, convnetjs_cifar10  # noqa: F401
from .densenet import (DenseBlock, DenseLayer, DenseNet, Transition, densenet121,  # noqa: F401
                       densenet169)
from .googlenet import (GoogLeNet, GoogLeNetOutputs, InceptionAux, InceptionBlock,  # noqa: F401
                        googlenet)
from .pretrained import (AlexNet_Weights, DenseNet121_Weights,  # noqa: F401
                         DenseNet169_Weights, GoogLeNet_Weights, MobileNet_V2_Weights,
                         ResNet18_Weights, ResNet34_Weights, ResNet50_Weights,
                         ResNet101_Weights, ResNet152_Weights, ResNeXt50_32X4D_Weights,
                         ShuffleNet_V2_X1_0_Weights, SqueezeNet1_0_Weights,
                         SqueezeNet1_1_Weights, VGG11_BN_Weights, VGG11_Weights,
                         VGG13_BN_Weights, VGG13_Weights, VGG16_BN_Weights, VGG16_Weights,
                         VGG19_BN_Weights, VGG19_Weights, Weights, WeightsNotFoundError)
from .mobilenet import (DepthwiseSeparableConv, InvertedResidual, MobileNetV1,  # noqa: F401
                        MobileNetV2, mobilenet_v1, mobilenet_v2)
from .resnet import (BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50,  # noqa: F401
                     resnet101, resnet152, resnext50_32x4d)
from .senet import SEBlock, SEBottleneck, se_resnet50  # noqa: F401
from .shufflenet import (ChannelShuffle, ShuffleNetV2, ShuffleV2Block,  # noqa: F401
                         shufflenet_v2_x1_0)
from .squeezenet import Fire, SqueezeNet, squeezenet1_0, squeezenet1_1  # noqa: F401
from .vgg import (VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19,  # noqa: F401
                  vgg19_bn)
from .weights import load_state_file, load_weights, save_state_file, save_weights  # noqa: F401
from .zfnet import ZFNet, zfnet  # noqa: F401
